"""The ``http`` resolver: a file at an http(s) URL (Tekton's ``docs/http-resolver.md``).

Params: ``url``; ``http-username`` with ``http-password-secret`` (and ``-key``) for basic auth,
whose password is in a Secret of the cluster: tekton-debug does not read cluster Secrets for a
local run, so such a reference is refused with what to do instead. Redirects are followed (as Go's
client does). A URL has no version: each run fetches it again; the cache serves ``--offline``.
"""

from __future__ import annotations

import base64
import posixpath
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

from tekton_debug.resolution.reference import Reference, Resolved


def resolve(ref: Reference, remote) -> Resolved:
    url = ref.param("url")
    if not url:
        raise ref.error("the url param is missing", "add - name: url, value: https://...")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ref.error(f"url {url!r} is not an http or https URL",
                        "give the full URL, starting with https://")
    if ref.param("http-password-secret") or ref.param("http-username"):
        secret = ref.param("http-password-secret") or "?"
        raise ref.error(f"basic auth takes the password from the Secret {secret!r} of the "
                        "cluster, which a local run does not read",
                        "download the file yourself and reference it by name from a file next "
                        "to this one, or run on the cluster (--runtime kubernetes)")
    request = {"resolver": "http", "url": url}
    if remote.offline:
        return remote.cached(ref, request)
    data = fetch(ref, remote, url, request, what="the file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ref.error(f"{url} did not answer with UTF-8 text",
                        "point url at a Task's YAML file (a raw file, not an HTML page)") from None
    name = posixpath.basename(urllib.parse.urlsplit(url).path) or "resource.yaml"
    return remote.cache.put([request], text, source=f"http {url}", name=name)


def fetch(ref: Reference, remote, url: str, key: dict | None, *, what: str,
          headers: dict | None = None) -> bytes:
    """GET ``url``: its body, or a located UserError saying why not (unreachable, not found, no
    permission). Bounded in time (``remote.timeout``) and size (``MAX_BYTES``)."""
    from tekton_debug.resolution.remote import MAX_BYTES

    parts = urllib.parse.urlsplit(url)
    auth = None
    if parts.username is not None:  # user:password@ in the URL is basic auth, as Go's client does
        auth = base64.b64encode(f"{urllib.parse.unquote(parts.username)}:"
                                f"{urllib.parse.unquote(parts.password or '')}".encode()).decode()
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    req = urllib.request.Request(url, headers={"User-Agent": "tekton-debug", **(headers or {})})
    if auth:
        req.add_unredirected_header("Authorization", f"Basic {auth}")
    try:
        with urllib.request.urlopen(req, timeout=remote.timeout) as resp:
            data = resp.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 404:
            raise remote.failed(ref, f"not found: {what} at {url} (HTTP 404)",
                                "check the URL", key) from None
        if e.code in (401, 403):
            raise remote.failed(ref, f"no permission: {url} answered HTTP {e.code}",
                                "check that it can be read without logging in", key) from None
        raise remote.failed(ref, f"{url} answered HTTP {e.code} {e.reason}",
                            "check the URL, or try again later", key) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, ssl.SSLError):
            why = f"TLS failed with {urllib.parse.urlsplit(url).netloc}: {reason}"
        elif isinstance(reason, (socket.timeout, TimeoutError)):
            why = f"host unreachable: no answer from {url} within {remote.timeout:.0f} s"
        elif isinstance(reason, socket.gaierror):
            why = f"host unreachable: unknown host {urllib.parse.urlsplit(url).hostname}"
        else:
            why = f"host unreachable: {url}: {getattr(reason, 'strerror', None) or reason}"
        raise remote.failed(ref, why, "check the URL and your network", key) from None
    if len(data) > MAX_BYTES:
        raise ref.error(f"{url} answered more than {MAX_BYTES // (1024 * 1024)} MB",
                        "point it at a Task's YAML file")
    return data
