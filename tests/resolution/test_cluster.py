"""The cluster resolver against the test cluster (a Kubernetes-compatible API server on loopback),
through a kubeconfig as a user has one."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from tekton_debug.errors import UserError
from tekton_debug.resolution.cache import Cache
from tekton_debug.resolution.reference import Reference
from tekton_debug.resolution.remote import Remote
from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import api_client

from .conftest import task_yaml


def put_task(kubeconfig: str, name: str, namespace: str = "default", message: str = "hi") -> None:
    body = yaml.safe_load(task_yaml(name, message))
    api = api_client(kubeconfig)
    if namespace != "default":
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "tekton.dev", "v1", namespace, "tasks", body)


def cluster_ref(namespace: str | None = None, **params) -> Reference:
    return Reference("cluster", params, file="run.yaml", line=7, column=5, namespace=namespace)


@pytest.fixture
def resolver(cluster, tmp_path):  # noqa: F811
    return Remote(cache=Cache(str(tmp_path / "cache")), kubeconfig=cluster.kubeconfig, timeout=10)


def test_a_task_in_the_cluster_resolves_to_its_yaml(cluster, resolver):  # noqa: F811
    put_task(cluster.kubeconfig, "shared", message="from the cluster")
    got = resolver.resolve(cluster_ref(name="shared"))
    doc = yaml.safe_load(got.text)
    assert doc["kind"] == "Task" and doc["metadata"]["name"] == "shared"
    assert "echo from the cluster" in doc["spec"]["steps"][0]["script"]
    assert "default/task/shared" in got.source and got.file.endswith("/shared.yaml")


def test_the_namespace_is_the_params_else_the_taskruns(cluster, resolver):  # noqa: F811
    put_task(cluster.kubeconfig, "shared", namespace="team", message="teams-copy")
    assert "teams-copy" in resolver.resolve(cluster_ref(name="shared", namespace="team")).text
    assert "teams-copy" in resolver.resolve(cluster_ref("team", name="shared")).text


def test_offline_serves_the_last_copy(cluster, resolver):  # noqa: F811
    put_task(cluster.kubeconfig, "shared")
    resolver.resolve(cluster_ref(name="shared"))
    cluster.stop()
    offline = Remote(offline=True, cache=resolver.cache, kubeconfig=cluster.kubeconfig)
    assert offline.resolve(cluster_ref(name="shared")).cached


def test_a_missing_task_and_a_missing_permission_say_so(cluster, resolver):  # noqa: F811
    with pytest.raises(UserError) as err:
        resolver.resolve(cluster_ref(name="nope"))
    assert "not found: there is no task 'nope' in namespace 'default'" in err.value.first.message
    assert (err.value.first.file, err.value.first.line) == ("run.yaml", 7)
    cluster.deny("get", "tasks")
    with pytest.raises(UserError) as err:
        resolver.resolve(cluster_ref(name="nope"))
    assert "no permission" in err.value.first.message
    assert "kubectl auth can-i get tasks.tekton.dev" in err.value.first.fix


def test_an_unreachable_cluster_says_so(cluster, resolver):  # noqa: F811
    cluster.stop()
    with pytest.raises(UserError) as err:
        resolver.resolve(cluster_ref(name="shared"))
    assert "host unreachable" in err.value.first.message


def test_no_kubeconfig_says_what_to_give(tmp_path):
    remote = Remote(cache=Cache(str(tmp_path / "c")), kubeconfig=str(tmp_path / "none"))
    with pytest.raises(UserError) as err:
        remote.resolve(cluster_ref(name="x"))
    assert "no kubeconfig" in err.value.first.message and "--kubeconfig" in err.value.first.fix
