"""The http resolver against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError

from .conftest import ref, task_yaml


def test_a_url_resolves_to_its_body_and_is_fetched_again_each_time(http_server, online):
    http_server.files["/tasks/build.yaml"] = (200, task_yaml("build", "one").encode())
    url = http_server.base + "/tasks/build.yaml"
    assert "echo one" in online.resolve(ref("http", url=url)).text
    http_server.files["/tasks/build.yaml"] = (200, task_yaml("build", "two").encode())
    got = online.resolve(ref("http", url=url))
    assert "echo two" in got.text and got.file.endswith("/build.yaml")
    assert http_server.requests == ["/tasks/build.yaml"] * 2


def test_offline_serves_the_last_copy_without_asking(http_server, online, offline):
    http_server.files["/t.yaml"] = (200, task_yaml("t").encode())
    online.resolve(ref("http", url=http_server.base + "/t.yaml"))
    got = offline.resolve(ref("http", url=http_server.base + "/t.yaml"))
    assert got.cached and http_server.requests == ["/t.yaml"]


@pytest.mark.parametrize("status, why", [(404, "not found"), (403, "no permission"),
                                         (401, "no permission"), (500, "answered HTTP 500")])
def test_http_errors_say_what_kind_of_failure(http_server, online, status, why):
    http_server.files["/t.yaml"] = (status, b"")
    with pytest.raises(UserError) as err:
        online.resolve(ref("http", url=http_server.base + "/t.yaml"))
    assert why in err.value.first.message and err.value.first.line == 7


def test_an_unreachable_host_says_so(online, closed_port):
    with pytest.raises(UserError) as err:
        online.resolve(ref("http", url=f"http://127.0.0.1:{closed_port}/t.yaml"))
    assert "host unreachable" in err.value.first.message


def test_basic_auth_from_a_cluster_secret_is_refused_naming_the_secret_not_its_value(online):
    with pytest.raises(UserError) as err:
        online.resolve(ref("http", url="https://example.invalid/t.yaml", **{
            "http-username": "me", "http-password-secret": "git-creds"}))
    assert "Secret 'git-creds'" in err.value.first.message


def test_a_url_that_is_not_http_is_refused(online):
    with pytest.raises(UserError) as err:
        online.resolve(ref("http", url="ftp://127.0.0.1/t.yaml"))
    assert "not an http or https URL" in err.value.first.message


def test_credentials_written_into_a_url_reach_no_message_and_no_cache_file(http_server, online,
                                                                           cache):
    url = http_server.base.replace("http://", "http://me:s3cret-token@") + "/t.yaml"
    with pytest.raises(UserError) as err:
        online.resolve(ref("http", url=url))
    assert "s3cret-token" not in str(err.value) and "***@127.0.0.1" in str(err.value)
    http_server.files["/t.yaml"] = (200, task_yaml("t").encode())
    got = online.resolve(ref("http", url=url))
    assert "s3cret-token" not in got.source
    import pathlib
    for f in pathlib.Path(cache.root).rglob("*"):
        if f.is_file():
            assert "s3cret-token" not in f.read_text()
