"""The hub resolver against a loopback server with the hub APIs' shape (Artifact Hub and a Tekton
Hub: the fields relied on are listed in resolution/hub.py)."""

from __future__ import annotations

import json

import pytest

from tekton_debug.errors import UserError

from .conftest import ref, task_yaml


def serve_json(server, path: str, body) -> None:
    server.files[path] = (200, json.dumps(body).encode())


@pytest.fixture
def artifact_hub(http_server, monkeypatch):
    monkeypatch.setenv("ARTIFACT_HUB_API", http_server.base)
    base = "/api/v1/packages/tekton-task/tekton-catalog-tasks/git-clone"
    for v in ("0.8.0", "0.9.0", "0.10.0", "1.0.0-rc1"):
        serve_json(http_server, f"{base}/{v}", {"data": {"manifestRaw": task_yaml("git-clone", v)},
                                               "version": v})
    serve_json(http_server, base, {"version": "0.10.0", "available_versions": [
        {"version": "0.8.0", "prerelease": False}, {"version": "0.9.0", "prerelease": False},
        {"version": "0.10.0", "prerelease": False}, {"version": "1.0.0-rc1", "prerelease": True}]})
    return http_server


@pytest.fixture
def tekton_hub(http_server, monkeypatch):
    monkeypatch.setenv("TEKTON_HUB_API", http_server.base)
    base = "/v1/resource/Tekton/task/golang-build"
    for v in ("0.3", "0.4"):
        serve_json(http_server, f"{base}/{v}/yaml", {"data": {"yaml": task_yaml("golang-build", v)}})
    serve_json(http_server, base, {"data": {"versions": [{"version": "0.3"}, {"version": "0.4"}]}})
    return http_server


def test_artifact_hub_is_the_default_and_short_versions_gain_a_patch(artifact_hub, online):
    got = online.resolve(ref("hub", name="git-clone", version="0.9"))
    assert "echo 0.9.0" in got.text and got.digest == "0.9.0"
    assert artifact_hub.requests == ["/api/v1/packages/tekton-task/tekton-catalog-tasks/git-clone/0.9.0"]


def test_an_exact_version_once_fetched_is_served_from_the_cache(artifact_hub, online):
    online.resolve(ref("hub", name="git-clone", version="0.9.0"))
    assert online.resolve(ref("hub", name="git-clone", version="0.9.0")).cached
    assert len(artifact_hub.requests) == 1


def test_a_constraint_picks_the_highest_release_that_meets_it(artifact_hub, online):
    assert "echo 0.10.0" in online.resolve(ref("hub", name="git-clone", version=">= 0.9")).text
    assert "echo 0.9.0" in online.resolve(ref("hub", name="git-clone",
                                              version=">= 0.8, < 0.10")).text
    with pytest.raises(UserError) as err:
        online.resolve(ref("hub", name="git-clone", version=">= 2"))
    assert "no version of task git-clone meets '>= 2'" in err.value.first.message


def test_a_tekton_hub_with_its_own_paths_and_short_versions(tekton_hub, online):
    got = online.resolve(ref("hub", type="tekton", name="golang-build", version="0.4.1"))
    assert "echo 0.4" in got.text
    assert tekton_hub.requests == ["/v1/resource/Tekton/task/golang-build/0.4/yaml"]
    assert "echo 0.4" in online.resolve(ref("hub", type="tekton", name="golang-build",
                                            version="~> 0.3")).text


def test_the_url_param_overrides_the_configured_hub(http_server, online, monkeypatch):
    monkeypatch.delenv("ARTIFACT_HUB_API", raising=False)
    serve_json(http_server, "/api/v1/packages/tekton-task/mine/t/1.0.0",
               {"data": {"manifestRaw": task_yaml("t")}})
    got = online.resolve(ref("hub", url=http_server.base, catalog="mine", name="t", version="1.0"))
    assert "name: t" in got.text


def test_offline_serves_what_was_fetched(artifact_hub, online, offline):
    online.resolve(ref("hub", name="git-clone", version=">= 0.9"))
    assert "echo 0.10.0" in offline.resolve(ref("hub", name="git-clone", version=">= 0.9")).text


@pytest.mark.parametrize("params, why", [
    ({"name": "git-clone", "version": "0.7"}, "not found: task git-clone 0.7.0"),
    ({"name": "git-clone"}, "missing params: version"),
    ({"name": "git-clone", "version": "0.9", "type": "other"}, "neither artifact nor tekton"),
    ({"name": "x", "version": "1", "kind": "stepaction"}, "no default catalog"),
])
def test_what_is_not_there_is_named_with_the_reference(artifact_hub, online, params, why):
    with pytest.raises(UserError) as err:
        online.resolve(ref("hub", **params))
    assert why in err.value.first.message and "resolver hub" in err.value.first.message
    assert err.value.first.line == 7


def test_tekton_type_without_a_hub_address_says_what_to_set(online, monkeypatch):
    monkeypatch.delenv("TEKTON_HUB_API", raising=False)
    with pytest.raises(UserError) as err:
        online.resolve(ref("hub", type="tekton", name="x", version="0.1"))
    assert "TEKTON_HUB_API" in err.value.first.fix


def test_an_unreachable_hub_says_so(online, closed_port):
    with pytest.raises(UserError) as err:
        online.resolve(ref("hub", url=f"http://127.0.0.1:{closed_port}", name="x", version="1"))
    assert "host unreachable" in err.value.first.message
