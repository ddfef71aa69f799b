"""The ``git`` resolver: a file from a git repository, through the git CLI, as Tekton's does.

Params (Tekton's ``docs/git-resolver.md``): ``url`` (any URL git clones: https, ssh,
``file://``), ``revision`` (a branch, tag or commit; Tekton's default is ``main``), ``pathInRepo``.
Like Tekton (``pkg/resolution/resolver/git/repository.go``) it fetches only the one commit
(``git fetch --depth=1 -- URL REVISION``) and reads the file at it. Credentials are the user's own
(git's credential helpers, ssh agent); git never prompts. The ``repo``/``org`` form goes through
a git host's API with a token from a cluster Secret, and is refused with what to write instead.

Cached by commit: a ``revision`` that is a full commit id is served from the cache without the
network once fetched.
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
import tempfile

from tekton_debug.resolution.reference import Reference, Resolved

DEFAULT_REVISION = "main"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def resolve(ref: Reference, remote) -> Resolved:
    url = ref.param("url")
    if not url:
        if ref.param("repo") or ref.param("org"):
            raise ref.error("the repo/org form asks a git host's API (scmType, serverURL) with "
                            "a token from a Secret of the cluster; tekton-debug fetches by url",
                            "give the repository's clone URL instead: - name: url, value: "
                            "https://HOST/ORG/REPO.git (or run on the cluster: --runtime "
                            "kubernetes)")
        raise ref.error("the url param is missing",
                        "add - name: url, value: the repository's clone URL")
    path = ref.param("pathInRepo")
    if not path:
        raise ref.error("the pathInRepo param is missing",
                        "add - name: pathInRepo, value: the file's path in the repository")
    clean = posixpath.normpath(path.lstrip("/"))
    if clean.startswith("../") or clean == "..":
        raise ref.error(f"pathInRepo {path!r} leaves the repository", "give a path inside it")
    revision = ref.param("revision", DEFAULT_REVISION)
    request = {"resolver": "git", "url": url, "revision": revision, "pathInRepo": clean}
    if remote.offline:
        return remote.cached(ref, request)
    if _COMMIT.fullmatch(revision):
        hit = remote.cache.get({"resolver": "git", "url": url, "commit": revision,
                                "pathInRepo": clean})
        if hit is not None:
            return hit
    with tempfile.TemporaryDirectory(prefix="tekton-debug-git-") as tmp:
        _git(ref, remote, request, tmp, "init", "-q", "--bare", tmp)
        _git(ref, remote, request, tmp, "fetch", "-q", "--depth=1", "--no-tags", "--", url,
             revision)
        commit = _git(ref, remote, request, tmp, "rev-parse", "FETCH_HEAD^{commit}").strip()
        try:
            data = subprocess.run(["git", "-C", tmp, "cat-file", "blob", f"{commit}:{clean}"],
                                  capture_output=True, timeout=remote.timeout, env=_env(),
                                  check=True).stdout
        except subprocess.CalledProcessError:
            raise remote.failed(ref, f"not found: there is no file {clean} at revision "
                                f"{revision} (commit {commit[:12]})",
                                "check pathInRepo and revision", request) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ref.error(f"{clean} at commit {commit[:12]} is not UTF-8 text",
                        "point pathInRepo at a Task's YAML file") from None
    source = f"git {url} @ {commit[:12]} : {clean}"
    return remote.cache.put([request, {"resolver": "git", "url": url, "commit": commit,
                                       "pathInRepo": clean}],
                            text, source=source, name=posixpath.basename(clean), version=commit)


def _env() -> dict:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git(ref: Reference, remote, request: dict, tmp: str, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", tmp, *args], capture_output=True, text=True,
                              timeout=remote.timeout, env=_env())
    except FileNotFoundError:
        raise ref.error("git is not installed", "install git (e.g. apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise remote.failed(ref, f"host unreachable: git got no answer within "
                            f"{remote.timeout:.0f} s", "check the url and your network",
                            request) from None
    if done.returncode != 0:
        why, fix = _why(done.stderr, request)
        raise remote.failed(ref, why, fix, request)
    return done.stdout


def _why(stderr: str, request: dict) -> tuple[str, str]:
    """git's complaint as (why, fix); the kind first: unreachable, not found, no permission."""
    text = stderr.strip()
    last = next((line.removeprefix("fatal: ") for line in text.splitlines()
                 if line.startswith("fatal:")), text.splitlines()[-1] if text else "git failed")
    low = text.lower()
    if "couldn't find remote ref" in low or "not our ref" in low:
        return (f"not found: the repository has no revision {request['revision']!r}",
                "check revision (a branch, tag or commit of the repository)")
    if any(s in low for s in ("could not resolve host", "connection refused", "failed to connect",
                              "timed out", "network is unreachable", "no route to host",
                              "could not resolve hostname")):
        return f"host unreachable: {last}", "check the url and your network"
    if any(s in low for s in ("authentication failed", "could not read username",
                              "permission denied", "403", "401")):
        return (f"no permission: {last}",
                "make sure you can `git clone` it yourself (credentials are yours here: a git "
                "credential helper or your ssh agent; the cluster uses the gitToken Secret)")
    if "does not appear to be a git repository" in low or "not found" in low:
        return f"not found: no git repository at {request['url']}", "check the url"
    return f"git failed: {last}", "check the url and revision"
