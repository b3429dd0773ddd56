"""Shared pieces: a private home, timing, the result table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    issue: str
    name: str
    value: str
    target: str = ""
    verdict: str = ""


def private_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="pmdesk-bench-"))
    os.environ.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
                       "PMDESK_NO_KEYRING": "1"})
    return home


def paired_ratio(measured: list[float], baseline: list[float]) -> float:
    """The median of measured/baseline over runs taken back to back.

    On a shared machine the speed drifts between seconds; each pair sees the same
    moment, and the median ignores the pairs a neighbour disturbed.
    """
    return statistics.median(m / b for m, b in zip(measured, baseline, strict=True))


def spread(measured: list[float], baseline: list[float]) -> str:
    ratios = [m / b for m, b in zip(measured, baseline, strict=True)]
    return f"{min(ratios):.2f} – {max(ratios):.2f}"


def best_of(n: int, fn: Callable[[], object]) -> float:
    """The fastest of ``n`` runs, in seconds: the least disturbed by a shared machine."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def python(code: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return out.stdout.strip()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def print_table(results: list[Result]) -> None:
    headers = ("issue", "benchmark", "measured", "target", "")
    rows = [(r.issue, r.name, r.value, r.target, r.verdict) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
