"""The DAP fuzz of tests/hardening/test_dap_fuzz.py at scale: 10,000+ messages to the adapter.

Plays random conversations (tests/hardening/dapfuzz.py: every command with random and wrongly
typed arguments, requests at the wrong time, unknown commands, large bodies, invalid JSON, broken
framing), one adapter process per conversation, and prints what it saw: messages sent, responses
by success, adapter restarts, crashes (0 expected) and the adapter's peak RSS.

Run: .venv/bin/python benchmarks/fuzz_dap.py [--messages N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.hardening.dapfuzz import Stats, conversations, converse, make_files, report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    args = parser.parse_args()
    stats = Stats()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-dap-") as tmp:
        files = make_files(Path(tmp))

        @settings(max_examples=50, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(conversations(files))
        def conversation(actions):
            if stats.messages < args.messages:
                converse(actions, files.directory, stats)

        rounds = 0
        while stats.messages < args.messages:
            (seed(args.seed + rounds)(conversation) if args.seed is not None else conversation)()
            rounds += 1
            print(f"... {stats.messages} messages, {stats.crashes} crashes", file=sys.stderr,
                  flush=True)
    print(report(stats, time.monotonic() - started))
    return 1 if stats.crashes else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
