"""``python -m tests.reliability [--full]``: every reliability check, and a table of counts.

Bounded (what the test command runs): 20 kills, every damage cell through the CLI with the
window's start in one cell per damage kind. Full: 200 kills, the window's start in every cell.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The checks that live as tests of their own: each counts its attempts and asserts none got through.
SUITES = (
    ("secrets scan: a saved and an environment key, 10 ways, every file, 8 CLI and 15 API answers (hits)",
     "tests/engine/test_secrets.py"),
    ("stop signals to the CLI (with setsid daemons), serve and the window with live agents (left alive)",
     "tests/engine/test_signals.py"),
    ("process trees: setsid daemons after a finished and a cancelled run (left alive)",
     "tests/engine/test_process_tree.py"),
    ("sandbox: 9 run_command and 15 file-tool escapes, network and no-bwrap cases (escapes)",
     "tests/engine/test_sandbox.py"),
    ("API: odd requests on the wire, and schemathesis for a bounded time (5xx answers)",
     "tests/api/test_odd_requests.py tests/api/test_api.py::test_schemathesis_finds_no_server_error"),
    ("crash states of an interrupted dispatch (stuck or orphaned after restart)",
     "tests/engine/test_crash_recovery.py"),
)


def pytest_counts(paths: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths.split()],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", out.stdout))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", out.stdout))
    return passed + failed, failed


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability")
    parser.add_argument("--full", action="store_true", help="200 kills, the window's start in every damage cell")
    args = parser.parse_args()
    from tests.reliability import damage, kill9

    rows: list[tuple[str, int, str]] = []
    started = time.time()
    trials, counts = kill9.run_trials(200 if args.full else 20, Path(tempfile.mkdtemp(prefix="pmdesk-kill9-")))
    for name in ("corrupt files", "lost events", "stuck plans", "orphan records", "leftover processes"):
        rows.append((f"kill -9 mid run/dispatch/respond/verify/serve, restart: {name}", trials, str(counts[name])))
    cells, failures = damage.run_matrix(args.full)
    rows.append((f"{len(damage.DAMAGES)} damage kinds × {len(damage.FILE_KINDS)} file kinds through CLI, API, window "
                 "start and serve (failing cells)", cells, str(len(failures))))
    for description, paths in SUITES:
        ran, failed = pytest_counts(paths)
        rows.append((description, ran, "0" if not failed else f"{failed} test(s) failed"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'check':<{width}}  {'trials':>6}  failures (all must be 0)")
    print(f"{'-' * width}  {'-' * 6}  {'-' * 24}")
    for description, n, bad in rows:
        print(f"{description:<{width}}  {n:>6}  {bad}")
    for cell, found in failures.items():
        print(f"  ✗ {cell}: {'; '.join(found)}")
    print(f"\n{'full' if args.full else 'bounded'} run in {time.time() - started:.0f} s")
    clean = all(bad == "0" for _, _, bad in rows)
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
