"""Time to first window of the built bundle, next to the same app from the checkout's venv.

    xvfb-run -a .venv/bin/python packaging/measure_startup.py      (after packaging/build.sh)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5


def first_paint(argv: list[str]) -> float:
    home = tempfile.mkdtemp(prefix="pmdesk-startup-")
    env = {**os.environ, "PMDESK_STARTUP_PROBE": "paint", "PMDESK_NO_KEYRING": "1",
           "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data"}
    started = time.time()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("{"))
    return float(json.loads(line)["paintedAt"]) - started


def main() -> None:
    bundle = ROOT / "dist" / "pmdesk" / "pmdesk"
    if not bundle.exists():
        raise SystemExit("build the bundle first: packaging/build.sh")
    rows = {"bundle (dist/pmdesk/pmdesk)": [str(bundle)],
            "venv (python -m pmdesk)": [str(ROOT / ".venv" / "bin" / "python"), "-m", "pmdesk"]}
    results = {name: [] for name in rows}
    for _ in range(RUNS):  # interleaved, so both see the same machine load
        for name, argv in rows.items():
            results[name].append(first_paint(argv))
    size = subprocess.run(["du", "-sh", str(bundle.parent)], capture_output=True, text=True).stdout.split()[0]
    print(f"platform: {os.environ.get('QT_QPA_PLATFORM') or 'xcb'}; bundle size {size}; median of {RUNS}")
    for name, times in results.items():
        print(f"  {name:<28} first window {statistics.median(times) * 1000:6.0f} ms  "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")
    ratio = statistics.median(results["bundle (dist/pmdesk/pmdesk)"]) / statistics.median(results["venv (python -m pmdesk)"])
    print(f"  bundle / venv: {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
