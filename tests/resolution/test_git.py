"""The git resolver against a real repository (file://): revisions, commits, the cache, offline,
and every failure located and explained."""

from __future__ import annotations

import shutil

import pytest

from tekton_debug.errors import UserError

from .conftest import ref, task_yaml


def test_a_branch_resolves_to_the_file_at_its_latest_commit(repo, online):
    repo.commit({"tasks/build.yaml": task_yaml("build", "one")})
    commit = repo.commit({"tasks/build.yaml": task_yaml("build", "two")})
    got = online.resolve(ref("git", url=repo.url, revision="main", pathInRepo="tasks/build.yaml"))
    assert "echo two" in got.text
    assert got.digest == commit and commit[:12] in got.source
    assert got.file.endswith("/build.yaml") and open(got.file).read() == got.text


def test_revision_defaults_to_main_as_in_tekton(repo, online):
    repo.commit({"t.yaml": task_yaml("t")})
    assert "name: t" in online.resolve(ref("git", url=repo.url, pathInRepo="t.yaml")).text


def test_a_tag_and_an_older_commit_give_the_file_as_it_was(repo, online):
    first = repo.commit({"t.yaml": task_yaml("t", "old")})
    repo.git("tag", "v1")
    repo.commit({"t.yaml": task_yaml("t", "new")})
    assert "echo old" in online.resolve(ref("git", url=repo.url, revision="v1",
                                            pathInRepo="t.yaml")).text
    assert "echo old" in online.resolve(ref("git", url=repo.url, revision=first,
                                            pathInRepo="t.yaml")).text


def test_a_commit_once_fetched_is_served_from_the_cache_without_the_repository(repo, online):
    commit = repo.commit({"t.yaml": task_yaml("t")})
    online.resolve(ref("git", url=repo.url, revision=commit, pathInRepo="t.yaml"))
    shutil.rmtree(repo.path)
    got = online.resolve(ref("git", url=repo.url, revision=commit, pathInRepo="t.yaml"))
    assert got.cached and "name: t" in got.text


def test_offline_serves_what_was_fetched_and_refuses_what_was_not(repo, online, offline):
    repo.commit({"t.yaml": task_yaml("t")})
    online.resolve(ref("git", url=repo.url, revision="main", pathInRepo="t.yaml"))
    shutil.rmtree(repo.path)
    assert offline.resolve(ref("git", url=repo.url, revision="main", pathInRepo="t.yaml")).cached
    with pytest.raises(UserError) as err:
        offline.resolve(ref("git", url=repo.url, revision="other", pathInRepo="t.yaml"))
    assert "--offline, and it is not in the cache" in err.value.first.message
    assert "without --offline" in err.value.first.fix


def test_a_failed_fetch_says_an_offline_copy_exists(repo, online):
    repo.commit({"t.yaml": task_yaml("t")})
    online.resolve(ref("git", url=repo.url, revision="main", pathInRepo="t.yaml"))
    shutil.rmtree(repo.path)
    with pytest.raises(UserError) as err:
        online.resolve(ref("git", url=repo.url, revision="main", pathInRepo="t.yaml"))
    assert "not found: no git repository" in err.value.first.message
    assert "--offline" in err.value.first.fix


@pytest.mark.parametrize("params, why", [
    ({"revision": "nope", "pathInRepo": "t.yaml"}, "not found: the repository has no revision"),
    ({"revision": "main", "pathInRepo": "missing.yaml"}, "not found: there is no file missing.yaml"),
    ({"pathInRepo": "../etc/passwd"}, "leaves the repository"),
    ({"revision": "main"}, "the pathInRepo param is missing"),
])
def test_what_is_not_there_is_named_with_the_reference_and_its_place(repo, online, params, why):
    repo.commit({"t.yaml": task_yaml("t")})
    with pytest.raises(UserError) as err:
        online.resolve(ref("git", url=repo.url, **params))
    problem = err.value.first
    assert why in problem.message
    assert problem.message.startswith("taskRef (resolver git, url: file://")
    assert (problem.file, problem.line) == ("run.yaml", 7)


def test_a_missing_repository_and_an_unreachable_host_say_so(tmp_path, online, closed_port):
    with pytest.raises(UserError) as err:
        online.resolve(ref("git", url=f"file://{tmp_path}/none.git", pathInRepo="t.yaml"))
    assert "not found: no git repository" in err.value.first.message
    with pytest.raises(UserError) as err:
        online.resolve(ref("git", url=f"http://127.0.0.1:{closed_port}/r.git", pathInRepo="t.yaml"))
    assert "host unreachable" in err.value.first.message


def test_the_repo_org_form_is_refused_with_the_url_form_to_write(online):
    with pytest.raises(UserError) as err:
        online.resolve(ref("git", org="tektoncd", repo="catalog", pathInRepo="t.yaml"))
    assert "API" in err.value.first.message and "url" in err.value.first.fix
