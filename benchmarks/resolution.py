"""Remote references: a resolve served from the cache beside a fresh fetch of the same thing.

  (i)  git: a Task by commit id from a local repository (file://): fresh (git init + fetch
       --depth=1 + cat-file) vs served from the cache by commit
  (ii) bundles: a Task by manifest digest from a registry on loopback (docker-registry): fresh
       (manifest + layer over HTTP) vs served from the cache by digest

Each figure is the median of N resolves through ``Remote.resolve``; a fresh resolve uses an empty
cache directory each time. Run: .venv/bin/python benchmarks/resolution.py [-n N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tekton_debug.resolution.cache import Cache  # noqa: E402
from tekton_debug.resolution.reference import Reference  # noqa: E402
from tekton_debug.resolution.remote import Remote  # noqa: E402
from tests.resolution.conftest import task_yaml  # noqa: E402
from tests.resolution.registry import Registry  # noqa: E402


def median_ms(fn, n: int) -> float:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def compare(name: str, ref: Reference, work: Path, n: int) -> tuple[str, float, float]:
    fresh = median_ms(lambda i: Remote(cache=Cache(str(work / f"{name}-fresh-{i}"))).resolve(ref), n)
    warm = Remote(cache=Cache(str(work / f"{name}-warm")))
    warm.resolve(ref)
    cached = median_ms(lambda i: warm.resolve(ref), n)
    return name, fresh, cached


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    n = parser.parse_args().n
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-resolution-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        repo.mkdir()
        git = ["git", "-C", str(repo)]
        subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
        (repo / "t.yaml").write_text(task_yaml("t"))
        subprocess.run(git + ["add", "t.yaml"], check=True)
        subprocess.run(git + ["-c", "user.name=b", "-c", "user.email=b@example.com", "commit",
                              "-q", "-m", "t"], check=True)
        commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                                text=True).stdout.strip()
        rows.append(compare("git by commit", Reference("git", {
            "url": f"file://{repo}", "revision": commit, "pathInRepo": "t.yaml"}), work, n))
        (work / "reg").mkdir()
        registry = Registry(work / "reg")
        try:
            digest = registry.push_bundle(work, "b/t", "v1", [("task", "t", task_yaml("t"))])
            rows.append(compare("bundle by digest", Reference("bundles", {
                "bundle": f"{registry.host}/b/t@{digest}", "name": "t"}), work, n))
        finally:
            registry.stop()
    print(f"| resolve (median of {n}) | fresh | cached | fresh / cached |")
    print("|---|---|---|---|")
    for name, fresh, cached in rows:
        print(f"| {name} | {fresh:.2f} ms | {cached:.3f} ms | {fresh / cached:.0f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
