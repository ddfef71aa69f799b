"""PersistentVolumeClaims and TaskRun results on the test cluster, through kubectl 1.32: a claim is
one directory on the host that every pod mounting it shares; ``status.results`` comes from the
steps' termination messages, as Tekton's controller writes it."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.cluster.test_kubectl import kubectl

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""

WRITER = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: writer}
spec:
  workspaces:
    - name: source
      persistentVolumeClaim: {claimName: shared}
      subPath: app
  taskSpec:
    workspaces: [{name: source}]
    results: [{name: version}, {name: files, type: array}]
    steps:
      - name: write
        image: alpine
        script: |
          echo "hello from the writer" > $(workspaces.source.path)/note.txt
          printf '1.2.3' > $(results.version.path)
          printf '["note.txt", "other"]' > $(results.files.path)
"""

READER = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: reader}
spec:
  workspaces:
    - name: src
      persistentVolumeClaim: {claimName: shared}
      subPath: app
  taskSpec:
    workspaces: [{name: src}]
    steps:
      - name: read
        image: alpine
        script: cat $(workspaces.src.path)/note.txt
"""


def test_a_claim_is_created_listed_shared_by_two_taskruns_and_deleted(kubectl_env, cluster,
                                                                      tmp_path):
    for name, text in (("claim", CLAIM), ("writer", WRITER), ("reader", READER)):
        (tmp_path / f"{name}.yaml").write_text(text)
    out = kubectl(kubectl_env, "create", "-f", str(tmp_path / "claim.yaml"))
    assert out.stdout.strip() == "persistentvolumeclaim/shared created"
    header, row = kubectl(kubectl_env, "get", "pvc").stdout.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES"]
    assert row.split()[:2] == ["shared", "Bound"] and row.split()[3:5] == ["1Gi", "RWO"]

    kubectl(kubectl_env, "create", "-f", str(tmp_path / "writer.yaml"))
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded", "taskrun/writer", "--timeout=30s")
    kubectl(kubectl_env, "create", "-f", str(tmp_path / "reader.yaml"))
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded", "taskrun/reader", "--timeout=30s")
    # the second TaskRun's pod read what the first one's wrote: one volume, two pods
    assert kubectl(kubectl_env, "logs", "reader-pod", "-c", "step-read").stdout == \
        "hello from the writer\n"
    mount = kubectl(kubectl_env, "get", "pod", "reader-pod", "-o", "jsonpath="
                    "{.spec.volumes[?(@.persistentVolumeClaim)].persistentVolumeClaim.claimName}"
                    " {.spec.containers[0].volumeMounts[?(@.mountPath=='/workspace/src')]"
                    ".subPath}").stdout
    assert mount == "shared app"

    # results, as Tekton's controller reports them from the termination message
    version = kubectl(kubectl_env, "get", "tr", "writer", "-o",
                      "jsonpath={.status.results[?(@.name=='version')].value}").stdout
    assert version == "1.2.3"
    files = kubectl(kubectl_env, "get", "tr", "writer", "-o",
                    "jsonpath={.status.results[?(@.name=='files')].value[1]}").stdout
    assert files == "other"

    where = cluster.call(lambda: cluster.cluster.claim_dir("default", "shared"))
    assert os.path.isfile(os.path.join(where, "app", "note.txt"))
    out = kubectl(kubectl_env, "delete", "pvc", "shared")
    assert out.stdout.strip() == 'persistentvolumeclaim "shared" deleted'
    assert not os.path.exists(where)
    gone = kubectl(kubectl_env, "get", "pvc", "shared", check=False)
    assert gone.returncode != 0 and 'persistentvolumeclaims "shared" not found' in gone.stderr


def test_a_claim_without_access_modes_or_size_is_refused(kubectl_env, tmp_path):
    path = tmp_path / "claim.yaml"
    path.write_text("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: bad}\n"
                    "spec: {}\n")
    out = kubectl(kubectl_env, "create", "-f", str(path), check=False)
    assert out.returncode != 0
    assert "spec.accessModes: Required value: at least 1 access mode is required" in out.stderr
    assert "spec.resources[storage]: Required value" in out.stderr


def test_a_taskrun_whose_claim_does_not_exist_stays_pending_and_says_why(kubectl_env, tmp_path):
    path = tmp_path / "reader.yaml"
    path.write_text(READER)
    kubectl(kubectl_env, "create", "-f", str(path))
    kubectl(kubectl_env, "wait", "--for=jsonpath={.status.conditions[0].reason}=Pending",
            "taskrun/reader", "--timeout=30s")
    kubectl(kubectl_env, "wait", "--for=condition=PodScheduled=False", "pod/reader-pod",
            "--timeout=30s")
    message = kubectl(kubectl_env, "get", "tr", "reader", "-o",
                      "jsonpath={.status.conditions[0].message}").stdout
    assert 'persistentvolumeclaim \\"shared\\" not found' in message or \
        'persistentvolumeclaim "shared" not found' in message


def test_a_volume_claim_template_makes_a_claim_owned_by_the_taskrun(kubectl_env, tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text(WRITER.replace("metadata: {name: writer}", "metadata: {name: own}").replace(
        "persistentVolumeClaim: {claimName: shared}",
        "volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], "
        "resources: {requests: {storage: 1Gi}}}}"))
    kubectl(kubectl_env, "create", "-f", str(path))
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded", "taskrun/own", "--timeout=30s")
    owners = kubectl(kubectl_env, "get", "pvc", "-o", "jsonpath={range .items[*]}"
                     "{.metadata.name} {.metadata.ownerReferences[0].kind}/"
                     "{.metadata.ownerReferences[0].name}{end}").stdout
    name, owner = owners.split()
    assert owner == "TaskRun/own" and name.startswith("pvc-") and len(name) == 14
    kubectl(kubectl_env, "delete", "taskrun", "own")
    assert kubectl(kubectl_env, "get", "pvc", "-o", "name").stdout == ""
