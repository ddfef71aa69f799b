"""The cache of what was fetched: ``$XDG_CACHE_HOME/tekton-debug/resolution`` (``~/.cache/...``).

- ``objects/<sha256>/<name>``: each fetched text once, by the digest of its content; this file is
  the local copy the debugger shows (frames, breakpoints), so it keeps a readable name.
- ``refs/<sha256 of the key>.json``: what a key resolved to, last time: the object's digest, where
  it came from (for messages), what version it was (a commit, an image digest) and when.

A resolver writes two kinds of keys: the *request* as written (``url`` + ``revision`` + ``path``),
which ``--offline`` reads, and, where there is one, the *immutable* version (``url`` + commit +
``path``, an image digest) which serves later requests without the network. No key holds a
secret: params that name Secrets are never sent anywhere from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

from tekton_debug.resolution.reference import Resolved, redact


def default_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tekton-debug", "resolution")


class Cache:
    def __init__(self, root: str | None = None) -> None:
        self.root = root or default_root()

    @staticmethod
    def _key_name(key: dict) -> str:
        canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def get(self, key: dict) -> Resolved | None:
        """What ``key`` resolved to last time, or None (also when the copy went missing)."""
        try:
            with open(os.path.join(self.root, "refs", self._key_name(key) + ".json"),
                      encoding="utf-8") as f:
                entry = json.load(f)
            path = os.path.join(self.root, "objects", entry["digest"], entry["name"])
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if hashlib.sha256(text.encode()).hexdigest() != entry["digest"]:
            return None  # changed by hand: not what was fetched
        return Resolved(text, source=entry.get("source", ""), file=path,
                        digest=entry.get("version") or f"sha256:{entry['digest']}", cached=True)

    def when(self, key: dict) -> str | None:
        """When ``key`` was last fetched (UTC, readable), or None."""
        try:
            with open(os.path.join(self.root, "refs", self._key_name(key) + ".json"),
                      encoding="utf-8") as f:
                fetched = json.load(f)["fetched"]
            return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(fetched)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, keys: list[dict], text: str, *, source: str, name: str,
            version: str = "") -> Resolved:
        """Keep ``text`` and make each of ``keys`` point at it. Returns it as served from here.

        A cache that cannot be written (read-only home) is not an error: the text is served from
        a temporary copy."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        name = os.path.basename(name) or "resource.yaml"
        source = redact(source)
        entry = {"digest": digest, "name": name, "source": source, "version": version,
                 "fetched": time.time()}
        try:
            folder = os.path.join(self.root, "objects", digest)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                _write(path, text)
            os.makedirs(os.path.join(self.root, "refs"), mode=0o700, exist_ok=True)
            for key in keys:
                _write(os.path.join(self.root, "refs", self._key_name(key) + ".json"),
                       json.dumps({**entry, "key": json.loads(redact(json.dumps(key)))},
                                  sort_keys=True))
        except OSError:
            fd, path = tempfile.mkstemp(prefix="tekton-debug-", suffix="-" + name)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        return Resolved(text, source=source, file=path, digest=version or f"sha256:{digest}")


def _write(path: str, text: str) -> None:
    """Atomically: a reader never sees half a file, two writers never mix."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
