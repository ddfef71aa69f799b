"""Real containers for the tests: the engine's configuration for these machines and images built
locally (there is no registry to pull from).

``configure()`` writes the tests' own ``containers.conf`` (runc, cgroupfs, events in a file, the
hard ``nofile`` limit this process has, no network) and points ``CONTAINERS_CONF`` at it, unless
the caller set one. Images (built once per machine; a build is skipped when the tag exists):

- ``busybox()``: a static busybox with one link per applet, ``/etc/passwd``, and
  ``/etc/only-in-image`` (a file the host does not have); under a second to build.
- ``shellless()``: no shell at all: one static program, ``/app/busybox`` (a distroless stand-in).
- ``python_image()``: ``busybox()``'s tree plus this machine's Debian Python, its libraries and
  standard library (a few seconds to build, about 75 MB).
- ``build()``: an image built by ``podman build`` from a Containerfile on top of one of these.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
BUSYBOX = "localhost/tekton-debug-test/busybox:1"
SHELLLESS = "localhost/tekton-debug-test/shellless:2"
MARKER = "/etc/only-in-image"
MARKER_TEXT = "this file is only in the test image"


# Every public registry is blocked for the tests: a pull (the `auto` runtime tries one for an image
# that is not here, e.g. alpine:3.20 in examples/) fails at once, and nothing leaves this machine,
# not even a DNS lookup. Loopback registries (127.0.0.1:PORT) and localhost/ images are not matched.
REGISTRIES = "unqualified-search-registries = []\n" + "".join(
    f'\n[[registry]]\nprefix = "*.{tld}"\nlocation = "blocked.{tld}"\nblocked = true\n'
    for tld in ("io", "com", "org", "net", "dev", "aws", "cloud", "sh", "co", "ai", "app"))


def configure_registries() -> str:
    """Point the engine (and skopeo) at the tests' registries.conf; its path."""
    if os.environ.get("CONTAINERS_REGISTRIES_CONF"):
        return os.environ["CONTAINERS_REGISTRIES_CONF"]
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "registries.conf"
    path.write_text("# written by tests/containers.py: no pull leaves this machine\n" + REGISTRIES)
    os.environ["CONTAINERS_REGISTRIES_CONF"] = str(path)
    return str(path)


def configure() -> str:
    """Point the engine at the tests' containers.conf (and registries.conf); its path."""
    configure_registries()
    if os.environ.get("CONTAINERS_CONF"):
        return os.environ["CONTAINERS_CONF"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = 1048576 if hard == resource.RLIM_INFINITY else hard
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "containers.conf"
    path.write_text(f"""# written by tests/containers.py for the tests' containers
[containers]
default_ulimits = ["nofile={hard}:{hard}", "nproc=32768:32768"]
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
""")
    os.environ["CONTAINERS_CONF"] = str(path)
    return str(path)


def podman() -> str | None:
    """podman's path when it is installed and works here, else None."""
    path = shutil.which("podman")
    if path is None or _static_busybox() is None:
        return None
    configure()
    try:
        ok = subprocess.run([path, "ps", "-q"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if ok else None


def _static_busybox() -> str | None:
    from tekton_debug.runtimes.container.shell import find_static_shell
    from tekton_debug.errors import UserError
    try:
        return find_static_shell().path
    except UserError:
        return None


def _exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag]).returncode == 0


def _import(tree: Path, tag: str, changes: list[str]) -> None:
    tar = subprocess.Popen(["tar", "-C", str(tree), "-cf", "-", "."], stdout=subprocess.PIPE)
    args = ["podman", "import", "-q"]
    for c in changes:
        args += ["--change", c]
    subprocess.run(args + ["-", tag], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
    tar.wait()


def _busybox_tree(bb: str, tree: Path) -> None:
    """A static busybox with one link per applet in ``tree``/bin, two users, and ``MARKER``."""
    (tree / "bin").mkdir()
    (tree / "etc").mkdir()
    (tree / "tmp").mkdir(mode=0o1777)
    shutil.copy2(bb, tree / "bin" / "busybox")
    for applet in subprocess.run([bb, "--list"], capture_output=True).stdout.decode().split():
        if not (tree / "bin" / applet).exists():
            os.symlink("busybox", tree / "bin" / applet)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "tester:x:1234:1234:tester:/tmp:/bin/sh\n")
    (tree / "etc" / "group").write_text("root:x:0:\ntester:x:1234:\n")
    (tree / MARKER.lstrip("/")).write_text(MARKER_TEXT + "\n")


def busybox() -> str:
    configure()
    if not _exists(BUSYBOX):
        bb = _static_busybox()
        assert bb, "a static busybox is needed (apt-get install busybox-static)"
        with tempfile.TemporaryDirectory() as d:
            tree = Path(d)
            _busybox_tree(bb, tree)
            _import(tree, BUSYBOX, ["ENV PATH=/usr/local/bin:/bin", "ENV IMAGE_VAR=from-image"])
    return BUSYBOX


def shellless() -> str:
    configure()
    if not _exists(SHELLLESS):
        bb = _static_busybox()
        assert bb
        with tempfile.TemporaryDirectory() as d:
            tree = Path(d)
            (tree / "app").mkdir()
            shutil.copy2(bb, tree / "app" / "busybox")
            (tree / "etc").mkdir()
            (tree / MARKER.lstrip("/")).write_text(MARKER_TEXT + "\n")
            _import(tree, SHELLLESS, ["ENV PATH=/usr/bin:/bin"])
    return SHELLLESS


def engine_containers(label_value: str | None = None) -> list[str]:
    """The names of the containers the engine has (all states) that a tekton-debug run made."""
    flt = "io.tekton-debug.run" + (f"={label_value}" if label_value else "")
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label={flt}", "--format",
                          "{{.Names}}"], capture_output=True, text=True, check=True).stdout
    return out.split()


def owned_by(pid: int) -> list[str]:
    """The names of the containers (all states) that the tekton-debug process ``pid`` made."""
    out = subprocess.run(["podman", "ps", "-a", "--filter", "label=io.tekton-debug.owner",
                          "--format", '{{.Names}} {{index .Labels "io.tekton-debug.owner"}}'],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].startswith(f"{pid}.")]


PYTHON = "localhost/tekton-debug-test/python:3"
PYTHON_BINARY = "/usr/bin/python3.11"


def python_image() -> str | None:
    """The busybox image plus this machine's Debian Python (its binary, the libraries it and its
    extension modules load, its standard library): a Python image with no registry. None when
    the machine has no such Python (Debian's, on x86-64)."""
    configure()
    if _exists(PYTHON):
        return PYTHON
    bb = _static_busybox()
    if bb is None or not os.path.exists(PYTHON_BINARY):
        return None
    version = os.path.basename(PYTHON_BINARY)[len("python"):]
    stdlib = Path(f"/usr/lib/python{version}")
    if not stdlib.is_dir():
        return None
    with tempfile.TemporaryDirectory() as d:
        tree = Path(d)
        _busybox_tree(bb, tree)
        (tree / "usr" / "lib").mkdir(parents=True)
        (tree / "usr" / "bin").mkdir()
        shutil.copy2(PYTHON_BINARY, tree / "usr" / "bin" / f"python{version}")
        os.symlink(f"python{version}", tree / "usr" / "bin" / "python3")
        os.symlink("/bin/busybox", tree / "usr" / "bin" / "env")  # for `#!/usr/bin/env python3`
        shutil.copytree(stdlib, tree / "usr" / "lib" / stdlib.name, symlinks=True,
                        ignore=shutil.ignore_patterns("test", "idlelib", "tkinter", "turtledemo",
                                                      "ensurepip", "site-packages",
                                                      "dist-packages"))
        # the shared libraries the binary and the extension modules load, at their own paths
        loaded = [PYTHON_BINARY] + [str(p) for p in (stdlib / "lib-dynload").glob("*.so")]
        # and one that glibc loads itself when a thread ends (not listed by ldd)
        libraries: set[str] = {"/lib/x86_64-linux-gnu/libgcc_s.so.1"}
        for binary in loaded:
            out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
            for line in out.splitlines():
                parts = line.split()
                path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
                if path.startswith("/"):
                    libraries.add(path)
        for lib in libraries:
            target = tree / lib.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(lib), target)
        _import(tree, PYTHON, ["ENV PATH=/usr/local/bin:/usr/bin:/bin"])
    return PYTHON


def build(name: str, containerfile: str, files: dict[str, str]) -> str:
    """The image ``podman build`` makes of ``containerfile`` (``FROM`` an image above, no
    ``RUN``: the build has no network) with ``files`` (path in the build context -> text)
    beside it; tagged with a digest of both, so it is built once per machine."""
    configure()
    digest = hashlib.sha256(json.dumps([containerfile, files], sort_keys=True).encode())
    tag = f"localhost/tekton-debug-test/{name}:{digest.hexdigest()[:12]}"
    if not _exists(tag):
        with tempfile.TemporaryDirectory() as d:
            context = Path(d)
            for path, text in files.items():
                (context / path).parent.mkdir(parents=True, exist_ok=True)
                (context / path).write_text(text)
            (context / "Containerfile").write_text(containerfile)
            subprocess.run(["podman", "build", "--network", "none", "-q", "-t", tag,
                            "-f", str(context / "Containerfile"), str(context)],
                           check=True, stdout=subprocess.DEVNULL)
    return tag
