"""A real image registry on loopback (Debian's docker-registry, the Distribution registry) and
Tekton bundles built the way Tekton lays them out, pushed with skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request

MISSING = "install them: apt-get install docker-registry skopeo (tests/run.sh does)"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    """``docker-registry serve`` on 127.0.0.1; stopped by ``stop()``."""

    def __init__(self, root) -> None:
        if not shutil.which("docker-registry") or not shutil.which("skopeo"):
            raise RuntimeError(f"docker-registry and skopeo are needed: {MISSING}")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = root / "registry.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {root}/storage\nhttp:\n  addr: {self.host}\n")
        self.log = open(root / "registry.log", "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not start: see {root}/registry.log")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def push_bundle(self, workdir, repository: str, tag: str,
                    objects: list[tuple[str, str, str]], *,
                    annotate: bool = True) -> str:
        """Push a bundle of ``objects`` ((kind, name, yaml) each, one layer each) as
        ``repository:tag``; returns the manifest's digest as the registry reports it."""
        layout = workdir / f"oci-{repository.replace('/', '-')}-{tag}"
        shutil.rmtree(layout, ignore_errors=True)
        (layout / "blobs" / "sha256").mkdir(parents=True)

        def blob(data: bytes) -> dict:
            digest = hashlib.sha256(data).hexdigest()
            (layout / "blobs" / "sha256" / digest).write_bytes(data)
            return {"digest": f"sha256:{digest}", "size": len(data)}

        layers, diff_ids = [], []
        for kind, name, text in objects:
            tar_bytes = io.BytesIO()
            with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            raw = tar_bytes.getvalue()
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
            # gzipped, as Tekton's bundles are (skopeo would compress a plain tar itself and
            # drop the layer annotations while at it)
            layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                     **blob(gzip.compress(raw))}
            if annotate:
                layer["annotations"] = {"dev.tekton.image.apiVersion": "v1",
                                        "dev.tekton.image.kind": kind,
                                        "dev.tekton.image.name": name}
            layers.append(layer)
        config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
        manifest = json.dumps({"schemaVersion": 2,
                               "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          **config},
                               "layers": layers}).encode()
        m = blob(manifest)
        (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet",
                        "--dest-tls-verify=false", f"oci:{layout}:{tag}",
                        f"docker://{self.host}/{repository}:{tag}"],
                       check=True, capture_output=True, timeout=60,
                       env={**os.environ, "REGISTRY_AUTH_FILE": str(workdir / "auth.json")})
        return m["digest"]
