"""Go durations, as Tekton writes timeouts ("1h", "30m", "1h30m", "90s", "250ms", "0s")."""

from __future__ import annotations

import re

from tekton_debug.errors import UserError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Go's time.Duration is an int64 of nanoseconds: about 2562047h47m; ParseDuration rejects more
MAX_SECONDS = (2**63 - 1) / 1e9
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration. Raises UserError for anything Go's time.ParseDuration rejects."""
    s = str(text).strip()
    sign = 1.0
    if s and s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise UserError(f"invalid duration {text!r}",
                        fix='write a Go duration such as "90s", "30m", "1h30m" or "0s" for none')
    if total > MAX_SECONDS:
        raise UserError(f"duration {text!r} is out of range: Go durations go up to 2562047h "
                        f"(about 292 years)",
                        fix='write a shorter duration, or "0s" for no timeout')
    return sign * total


def format_duration(seconds: float) -> str:
    """The shortest Go duration for ``seconds`` ("1h0m0s" style is Go's; we print "1h", "2m30s")."""
    if seconds <= 0:
        return "0s"
    whole = int(seconds)
    if whole != seconds and seconds < 60:
        return f"{seconds:g}s"
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"
