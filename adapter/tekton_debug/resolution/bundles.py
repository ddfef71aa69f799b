"""The ``bundles`` resolver: a Tekton bundle, an OCI image in a registry (``docs/bundle-resolver.md``).

Params: ``bundle`` (an image reference, ``registry/repo:tag`` or ``@sha256:...``), ``name``,
``kind`` (default ``task``). The layout is Tekton's (``pkg/resolution/resolver/bundle/bundle.go``):
one layer per resource, each annotated ``dev.tekton.image.apiVersion``, ``dev.tekton.image.kind``
(lower case, singular) and ``dev.tekton.image.name``; the layer is a tarball holding one file (or,
failing that, the raw YAML), at most 20 layers. The manifest and the layer are read over the
registry's HTTP API (distribution spec v2): anonymous, or with your credentials from the
containers/docker auth file (``podman login``, ``docker login``), bearer tokens as the registry
asks. Plain http is used only for loopback registries and those you mark ``insecure = true`` in
containers' ``registries.conf`` (as ``--tls-verify=false`` does for podman); the ``secret`` and
``serviceAccount`` params name cluster objects and are not read here.

Cached by the manifest's digest: a ``bundle`` given by digest is served from the cache without
the network once fetched; a tag costs one manifest request.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import ipaddress
import json
import os
import re
import socket
import ssl
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from tekton_debug.resolution.reference import Reference, Resolved

ANNOTATION_API_VERSION = "dev.tekton.image.apiVersion"
ANNOTATION_KIND = "dev.tekton.image.kind"
ANNOTATION_NAME = "dev.tekton.image.name"
MAX_OBJECTS = 20
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class Image:
    registry: str  # host[:port]
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"


def parse_image(text: str) -> Image | None:
    """An image reference as Docker reads it (``busybox`` is ``docker.io/library/busybox``)."""
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            return None
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1:]
        if not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
            return None
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = "docker.io", text
        if "/" not in repository:
            repository = "library/" + repository
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
                        repository):
        return None
    if registry == "docker.io":
        registry = DOCKER_HUB
    return Image(registry, repository, tag if tag or digest else "latest", digest)


def resolve(ref: Reference, remote) -> Resolved:
    bundle = ref.param("bundle")
    name = ref.param("name")
    kind = (ref.param("kind") or "task").lower()
    if not bundle:
        raise ref.error("the bundle param is missing",
                        "add - name: bundle, value: REGISTRY/REPOSITORY:TAG")
    if not name:
        raise ref.error("the name param is missing",
                        "add - name: name, value: the resource's name in the bundle")
    image = parse_image(bundle)
    if image is None:
        raise ref.error(f"bundle {bundle!r} is not an image reference",
                        "write it as REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:...")
    request = {"resolver": "bundles", "bundle": bundle, "kind": kind, "name": name}
    if remote.offline:
        return remote.cached(ref, request)
    if image.digest:
        hit = remote.cache.get(_immutable(image.digest, kind, name))
        if hit is not None:
            return hit
    registry = _Registry(ref, remote, image, request)
    body, digest = registry.manifest()
    if image.digest and digest != image.digest:
        raise ref.error(f"the registry answered a manifest with digest {digest}, not "
                        f"{image.digest}", "check the bundle reference")
    hit = remote.cache.get(_immutable(digest, kind, name))
    if hit is not None:
        return hit
    layer = _layer(ref, bundle, body, kind, name)
    blob = registry.blob(layer["digest"])
    text = _contents(ref, blob, layer)
    short = digest.split(":", 1)[-1][:12]
    source = f"bundle {bundle} @ {short} : {kind}/{name}"
    return remote.cache.put([request, _immutable(digest, kind, name)], text, source=source,
                            name=f"{name}.yaml", version=digest)


def _immutable(digest: str, kind: str, name: str) -> dict:
    return {"resolver": "bundles", "manifest": digest, "kind": kind, "name": name}


def _layer(ref: Reference, bundle: str, body: bytes, kind: str, name: str) -> dict:
    """The manifest's layer that holds ``kind``/``name``, the manifest checked as Tekton does."""
    try:
        manifest = json.loads(body)
    except ValueError:
        raise ref.error(f"{bundle}: the registry's manifest is not JSON",
                        "check that it is an image") from None
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        raise ref.error(f"{bundle} is an image index (several platforms), not a Tekton bundle",
                        "point bundle at the image that `tkn bundle push` made")
    layers = manifest.get("layers") or []
    if len(layers) > MAX_OBJECTS:
        raise ref.error(f"{bundle} holds {len(layers)} layers; a Tekton bundle holds at most "
                        f"{MAX_OBJECTS}", "split the bundle")
    found = []
    for i, layer in enumerate(layers):
        notes = layer.get("annotations") or {}
        missing = [a for a in (ANNOTATION_API_VERSION, ANNOTATION_NAME, ANNOTATION_KIND)
                   if a not in notes]
        if missing:
            raise ref.error(f"{bundle} is not a Tekton bundle: layer {i} has no "
                            f"{missing[0]} annotation", "build it with `tkn bundle push`")
        found.append(f"{notes[ANNOTATION_KIND]}/{notes[ANNOTATION_NAME]}")
        if notes[ANNOTATION_KIND].lower() == kind and notes[ANNOTATION_NAME] == name:
            return layer
    raise ref.error(f"not found: {bundle} holds no {kind} named {name!r} (it holds "
                    f"{', '.join(found) or 'nothing'})", "check the name and kind params")


def _contents(ref: Reference, blob: bytes, layer: dict) -> str:
    """The YAML in a layer: the one file of its tarball (gzipped or not), else the raw bytes."""
    data = blob
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            raise ref.error(f"layer {layer['digest']} is not valid gzip",
                            "rebuild the bundle") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            member = next((m for m in tar if m.isfile()), None)
            if member is not None:
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
    except tarfile.TarError:
        pass  # a raw layer: the YAML itself
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ref.error(f"layer {layer['digest']} does not hold YAML text",
                        "rebuild the bundle") from None


# ---- the registry's HTTP API ----------------------------------------------------------------

class _Registry:
    def __init__(self, ref: Reference, remote, image: Image, key: dict) -> None:
        self.ref, self.remote, self.image, self.key = ref, remote, image, key
        self.scheme: str | None = None
        self.authorization: str | None = None

    def manifest(self) -> tuple[bytes, str]:
        status, headers, body = self._get(
            f"/v2/{self.image.repository}/manifests/{self.image.reference}",
            {"Accept": ", ".join(MANIFEST_TYPES + INDEX_TYPES)}, what="manifest")
        digest = headers.get("Docker-Content-Digest") or \
            "sha256:" + hashlib.sha256(body).hexdigest()
        return body, digest

    def blob(self, digest: str) -> bytes:
        from tekton_debug.resolution.remote import MAX_BYTES

        _, _, body = self._get(f"/v2/{self.image.repository}/blobs/{digest}", {}, what="layer",
                               limit=MAX_BYTES)
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm == "sha256" and hashlib.sha256(body).hexdigest() != hexdigest:
            raise self.ref.error(f"layer {digest}: what the registry sent does not match its "
                                 "digest", "try again; if it persists, the registry is broken")
        return body

    def _get(self, path: str, headers: dict, *, what: str,
             limit: int = 4 * 1024 * 1024) -> tuple[int, dict, bytes]:
        for attempt in range(2):
            status, resp_headers, body = self._request(path, headers, limit)
            if status == 401 and attempt == 0 and self._authenticate(resp_headers):
                continue
            break
        where = f"{self.image.registry}/{self.image.repository}"
        if status == 200:
            return status, resp_headers, body
        if status == 404:
            thing = f"{what} {self.image.reference}" if what == "manifest" else what
            raise self.remote.failed(self.ref, f"not found: {where} has no {thing}",
                                     "check the bundle's repository and tag", self.key)
        if status in (401, 403):
            raise self.remote.failed(
                self.ref, f"no permission: {where} answered HTTP {status}",
                f"log in to {self.image.registry} (podman login / docker login)", self.key)
        raise self.remote.failed(self.ref, f"{where} answered HTTP {status}",
                                 "try again later", self.key)

    def _request(self, path: str, headers: dict, limit: int) -> tuple[int, dict, bytes]:
        schemes = [self.scheme] if self.scheme else ["https"] + (
            ["http"] if _insecure(self.image.registry) else [])
        last: Exception | None = None
        for scheme in schemes:
            req = urllib.request.Request(f"{scheme}://{self.image.registry}{path}",
                                         headers={"User-Agent": "tekton-debug", **headers})
            if self.authorization:
                # not forwarded on a redirect (registries redirect blobs to storage elsewhere)
                req.add_unredirected_header("Authorization", self.authorization)
            try:
                with urllib.request.urlopen(req, timeout=self.remote.timeout) as resp:
                    self.scheme = scheme
                    return resp.status, dict(resp.headers.items()), resp.read(limit)
            except urllib.error.HTTPError as e:
                self.scheme = scheme
                with e:
                    return e.code, dict(e.headers.items()), b""
            except (urllib.error.URLError, OSError) as e:
                last = e
                reason = getattr(e, "reason", e)
                if scheme == "https" and isinstance(reason, ssl.SSLError) and len(schemes) > 1:
                    continue  # a plain-http registry you marked insecure (or loopback)
                break
        raise self.remote.failed(self.ref, _unreachable(self.image.registry, last,
                                                        self.remote.timeout),
                                 "check the registry's address and your network; a registry "
                                 "on plain http must be marked insecure in registries.conf",
                                 self.key)

    def _authenticate(self, headers: dict) -> bool:
        """Answer a 401: Basic with your credentials, or a bearer token from the realm."""
        challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
        scheme, _, rest = challenge.partition(" ")
        basic = _credentials(self.image.registry)
        if scheme.lower() == "basic":
            if basic is None or self.authorization:
                return False
            self.authorization = f"Basic {basic}"
            return True
        if scheme.lower() != "bearer":
            return False
        fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        realm = fields.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            return False
        query = {"service": fields.get("service", ""),
                 "scope": fields.get("scope") or f"repository:{self.image.repository}:pull"}
        req = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(query)}",
                                     headers={"User-Agent": "tekton-debug"})
        if basic:
            req.add_unredirected_header("Authorization", f"Basic {basic}")
        try:
            with urllib.request.urlopen(req, timeout=self.remote.timeout) as resp:
                answer = json.loads(resp.read(1024 * 1024))
        except (urllib.error.URLError, OSError, ValueError):
            return False
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str):
            return False
        self.authorization = f"Bearer {token}"
        return True


def _unreachable(registry: str, error: Exception | None, timeout: float) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"host unreachable: no answer from {registry} within {timeout:.0f} s"
    if isinstance(reason, socket.gaierror):
        return f"host unreachable: unknown host {registry}"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed with {registry}: {reason}"
    return f"host unreachable: {registry}: {getattr(reason, 'strerror', None) or reason}"


def _host(registry: str) -> str:
    if registry.startswith("["):
        return registry[1:registry.find("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def _insecure(registry: str) -> bool:
    """Plain http allowed: a loopback registry, or one marked ``insecure`` in registries.conf."""
    host = _host(registry)
    if host == "localhost":
        return True
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    return registry in _insecure_registries()


def _insecure_registries() -> set[str]:
    """``[[registry]] location = "host:port"  insecure = true`` from containers' registries.conf."""
    import tomllib

    paths = [os.environ.get("CONTAINERS_REGISTRIES_CONF"),
             os.path.join(os.environ.get("XDG_CONFIG_HOME") or
                          os.path.join(os.path.expanduser("~"), ".config"),
                          "containers", "registries.conf"),
             "/etc/containers/registries.conf"]
    for path in paths:
        if not path or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                conf = tomllib.load(f)
        except (OSError, ValueError):
            return set()
        return {r.get("location") or r.get("prefix") for r in conf.get("registry") or []
                if isinstance(r, dict) and r.get("insecure") is True}
    return set()


def _credentials(registry: str) -> str | None:
    """base64 ``user:password`` for ``registry`` from the auth file podman or docker wrote."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    paths = [os.environ.get("REGISTRY_AUTH_FILE"),
             os.path.join(runtime, "containers", "auth.json") if runtime else None,
             os.path.join(os.path.expanduser("~"), ".config", "containers", "auth.json"),
             os.path.join(os.environ.get("DOCKER_CONFIG") or
                          os.path.join(os.path.expanduser("~"), ".docker"), "config.json")]
    names = [registry] + (["docker.io", "index.docker.io", "https://index.docker.io/v1/"]
                          if registry == DOCKER_HUB else [])
    for path in paths:
        if not path or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                auths = json.load(f).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for name in names:
            entry = auths.get(name)
            if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
                try:
                    base64.b64decode(entry["auth"], validate=True)
                except ValueError:
                    continue
                return entry["auth"]
    return None
