"""Python steps under debugpy in containers (the container runtime, podman), through the DAP
server, each figure beside its baseline: the figures of ``python_steps.py``, with the step in a
Python image built locally (tests/containers.py) and run by that image's Python.

  (i)  a Python step with a breakpoint that is never hit  vs  the same step run plainly in its
       container (configurationDone -> terminated at the client)
  (ii) the script reaches a breakpoint -> `stopped` at the client (through the relay in the
       container and the adapter's Unix socket); the first hit, which starts debugpy, apart

Run: .venv/bin/python benchmarks/python_steps_in_containers.py [--runs N] [--hits N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from dap import p90
from python_steps import measure_hits, measure_never_hit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests import containers  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hits", type=int, default=20)
    args = ap.parse_args()
    if containers.podman() is None or containers.python_image() is None:
        print(json.dumps({"skipped": "podman or the Python test image is not available here"}))
        return 0
    where = {"runtime": "container", "python": "/usr/bin/env python3",
             "image": containers.python_image()}
    debugged, plain = measure_never_hit(args.runs, **where)
    hits = measure_hits(args.hits, **where)
    first, hits = hits[0], hits[1:]  # the first hit starts debugpy (started only when needed)
    print(json.dumps({
        "never_hit_ms": statistics.median(debugged), "plain_ms": statistics.median(plain),
        "extra_ms": statistics.median(debugged) - statistics.median(plain),
        "first_hit_to_stopped_ms": first, "hit_to_stopped_ms_median": statistics.median(hits), "hit_to_stopped_ms_p90": p90(hits),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
