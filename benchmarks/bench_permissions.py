"""Issue 16: a permission request's round trip through the window, against a bare reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, Result, verdict

PROBE = str(Path(__file__).with_name("permission_probe.py"))


def _probe(kind: str, count: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, PROBE, kind, str(count)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=600)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            found: dict[str, float] = json.loads(line)
            if found.get("count"):
                return found
    raise RuntimeError(f"permission probe ({kind}) printed nothing: {out.stderr[-1500:]}")


def run(quick: bool, root: Path) -> list[Result]:
    count = 20 if quick else 50
    bare = _probe("bare", count)
    ours = _probe("window", count)
    asked = (ours["asked_median"] - bare["asked_median"]) * 1000
    answered = (ours["answered_median"] - bare["answered_median"]) * 1000

    def ms(value: float) -> str:
        return f"{value * 1000:.1f} ms"

    return [
        Result("16", f"request written → card painted in the window (median / max of {int(ours['count'])})",
               f"{ms(ours['asked_median'])} / {ms(ours['asked_max'])}", "", f"show_request returned {ms(ours['filled_median'])} (it paints the card inside)"),
        Result("16", "request written → a bare reader has it (median / max)",
               f"{ms(bare['asked_median'])} / {ms(bare['asked_max'])}"),
        Result("16", "pmdesk adds, asking (median)", f"{asked:.1f} ms", "<= 20 ms", verdict(asked <= 20)),
        Result("16", "Allow clicked → the agent has the answer (median / max)",
               f"{ms(ours['answered_median'])} / {ms(ours['answered_max'])}"),
        Result("16", "bare reader's answer → the agent has it (median / max)",
               f"{ms(bare['answered_median'])} / {ms(bare['answered_max'])}"),
        Result("16", "pmdesk adds, answering (median)", f"{answered:.1f} ms", "<= 20 ms", verdict(answered <= 20)),
    ]
