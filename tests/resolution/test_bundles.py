"""The bundles resolver against a real registry on loopback, with bundles laid out as Tekton's."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError
from tekton_debug.resolution.bundles import parse_image

from .conftest import ref, task_yaml
from .registry import Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture
def pushed(registry, tmp_path):
    """bundles/tasks:v1 with two Tasks and a StepAction."""
    digest = registry.push_bundle(tmp_path, "bundles/tasks", "v1", [
        ("task", "build", task_yaml("build", "built")),
        ("task", "test", task_yaml("test", "tested")),
        ("stepaction", "build", "apiVersion: tekton.dev/v1beta1\nkind: StepAction\n"),
    ])
    return f"{registry.host}/bundles/tasks", digest


def test_a_tagged_bundle_resolves_to_the_named_task_in_its_layer(pushed, online):
    image, digest = pushed
    got = online.resolve(ref("bundles", bundle=f"{image}:v1", name="test", kind="task"))
    assert "echo tested" in got.text and got.digest == digest
    assert got.file.endswith("/test.yaml") and digest.split(":")[1][:12] in got.source


def test_kind_defaults_to_task_and_is_matched_without_case(pushed, online):
    image, _ = pushed
    assert "echo built" in online.resolve(ref("bundles", bundle=f"{image}:v1", name="build")).text
    assert "StepAction" in online.resolve(ref("bundles", bundle=f"{image}:v1", name="build",
                                              kind="StepAction")).text


def test_a_bundle_by_digest_is_served_from_the_cache_once_fetched(tmp_path, online):
    own = Registry(tmp_path)  # stopped below: not the shared one
    try:
        digest = own.push_bundle(tmp_path, "b/t", "v1", [("task", "build", task_yaml("build"))])
        online.resolve(ref("bundles", bundle=f"{own.host}/b/t@{digest}", name="build"))
    finally:
        own.stop()
    got = online.resolve(ref("bundles", bundle=f"{own.host}/b/t@{digest}", name="build"))
    assert got.cached and "name: build" in got.text


def test_a_layer_is_a_gzipped_or_plain_tarball_of_one_file_or_the_raw_yaml():
    import gzip
    import io
    import tarfile

    from tekton_debug.resolution.bundles import _contents

    data = task_yaml("t").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("t")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = {"digest": "sha256:x"}
    for blob in (buf.getvalue(), gzip.compress(buf.getvalue()), data):
        assert _contents(ref("bundles"), blob, layer) == data.decode()


def test_offline_serves_the_tag_as_last_fetched(pushed, online, offline):
    image, _ = pushed
    online.resolve(ref("bundles", bundle=f"{image}:v1", name="build"))
    assert offline.resolve(ref("bundles", bundle=f"{image}:v1", name="build")).cached
    with pytest.raises(UserError) as err:
        offline.resolve(ref("bundles", bundle=f"{image}:v2", name="build"))
    assert "not in the cache" in err.value.first.message


@pytest.mark.parametrize("params, why", [
    ({"bundle": "{image}:v1", "name": "deploy"},
     "not found: {host}/bundles/tasks:v1 holds no task named 'deploy' (it holds task/build, task/test, stepaction/build)"),
    ({"bundle": "{image}:v9", "name": "build"}, "not found: {host}/bundles/tasks has no manifest v9"),
    ({"bundle": "{host}/bundles/none:v1", "name": "build"}, "not found: {host}/bundles/none"),
    ({"bundle": "Not An Image!", "name": "build"}, "is not an image reference"),
    ({"bundle": "{image}:v1"}, "the name param is missing"),
])
def test_what_is_not_there_is_named_with_the_reference(registry, pushed, online, params, why):
    image, _ = pushed
    params = {k: v.format(image=image, host=registry.host) for k, v in params.items()}
    with pytest.raises(UserError) as err:
        online.resolve(ref("bundles", **params))
    assert why.format(host=registry.host) in err.value.first.message
    assert err.value.first.line == 7 and "resolver bundles" in err.value.first.message


def test_an_image_without_tekton_annotations_is_not_a_bundle(registry, tmp_path, online):
    registry.push_bundle(tmp_path, "plain/image", "v1", [("task", "x", task_yaml("x"))],
                         annotate=False)
    with pytest.raises(UserError) as err:
        online.resolve(ref("bundles", bundle=f"{registry.host}/plain/image:v1", name="x"))
    assert "not a Tekton bundle" in err.value.first.message


def test_an_unreachable_registry_says_so(online, closed_port):
    with pytest.raises(UserError) as err:
        online.resolve(ref("bundles", bundle=f"127.0.0.1:{closed_port}/b:v1", name="x"))
    assert "host unreachable: 127.0.0.1:" in err.value.first.message


def test_image_references_read_as_docker_reads_them():
    assert parse_image("busybox").registry == "registry-1.docker.io"
    assert parse_image("busybox").repository == "library/busybox"
    i = parse_image("localhost:5000/a/b:v1")
    assert (i.registry, i.repository, i.tag) == ("localhost:5000", "a/b", "v1")
    d = "sha256:" + "a" * 64
    assert parse_image(f"gcr.io/p/t@{d}").digest == d
    assert parse_image("gcr.io/p/t@sha256:short") is None
