"""The cost of masking secrets in step output, beside encoding the same output for the client.

A 64 KB chunk of ordinary log text (no secret in it, the common case) and 5 secrets, one of them
multi-line. Measured per chunk, in the same run:
- encode: ``dap.wire.encode`` of the output event alone (what relaying the chunk costs anyway);
- mask: ``Masker.mask_stream``, the one scan the session makes of the chunk's bytes as it arrives
  (one Aho-Corasick automaton over every secret);
- regex: the previous way (one alternation regex ``sub`` over every chunk), for the ratio.
Budget: masking costs no more than encoding (ratio mask/encode <= 1).
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapter"))

from tekton_debug.dap.wire import encode  # noqa: E402
from tekton_debug.session.masking import Masker  # noqa: E402

SECRETS = ["tok-4c3b2a1909", "key-aaa-111", "pw-ccc-333",
           "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----", "api-ddd-444"]
TEXT = ("compiling module 0123456789: ok, 17 warnings, see build/log.txt\n" * 1100)[:65536]
DATA = TEXT.encode()


def per_call(fn, repeat: int) -> float:
    """Median microseconds per call over 5 rounds of ``repeat`` calls."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(rounds)


def measure(repeat: int = 200) -> dict[str, float]:
    masker = Masker()
    masker.add_secrets(SECRETS)
    regex = re.compile("|".join(re.escape(s) for s in sorted(SECRETS, key=len, reverse=True)))
    event = {"type": "event", "event": "output", "body": {"category": "stdout", "output": TEXT}}
    return {"encode": per_call(lambda: encode(event), repeat),
            "mask": per_call(lambda: masker.mask_stream("k", DATA), repeat),
            "regex": per_call(lambda: regex.sub(Masker.MASK, TEXT), repeat)}


if __name__ == "__main__":
    r = measure(50 if "--quick" in sys.argv else 200)
    print(f"64 KB output chunk, 5 secrets: encode {r['encode']:.0f} us, mask {r['mask']:.0f} us "
          f"(mask/encode {r['mask'] / r['encode']:.2f}, budget <= 1), previous regex "
          f"{r['regex']:.0f} us (mask/regex {r['mask'] / r['regex']:.2f})")
