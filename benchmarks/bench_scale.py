"""Issue 20: a heavy user's state, written on disk in the spec's format as another tool would:
50 projects of 2,000 runs and one of 100,000 (50 × 200 and 20,000 with --quick).

Measured here: the listing, pages and the kept overview in this process; ``pmdesk runs`` as a
command, cold (files never listed) and warm; and a real ``pmdesk serve`` answering
``/api/projects`` and a first page of runs, against ``/api/openapi.json`` (a document it holds
ready) on the same server, latency on one connection and requests/s at 16 clients.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from benchmarks.bench_api import _latency, _throughput, against_server
from benchmarks.bench_store import QUIET_WAIT, generate
from benchmarks.common import ROOT, Result, ms, percentile, verdict

PROJECTS = 50


def _median_ms(fn: object, n: int = 5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _cli_seconds(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pmdesk", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(quick: bool, root: Path) -> list[Result]:
    from pmdesk.engine.engine import Engine
    from pmdesk.engine.listing import page_runs, parse_filter
    from pmdesk.engine.overview import overview
    from pmdesk.models import Project

    n = 20_000 if quick else 100_000
    per_project = 200 if quick else 2_000
    made = time.perf_counter()
    store, _ = generate(root / "scale", n, 0)
    small = [generate(root / f"p{i:02d}", per_project, 0)[0] for i in range(PROJECTS)]
    made = time.perf_counter() - made
    engine = Engine()
    big = engine.add_project(str(store.state_dir.parent.parent), "year")
    for i, one in enumerate(small):
        engine.add_project(str(one.state_dir.parent.parent), f"p{i:02d}")
    cli_cold = _cli_seconds("runs", big.project_id, "--limit", "50")  # builds the index: every file parsed once
    start = time.perf_counter()
    runs = store.list_runs()
    listed = time.perf_counter() - start
    time.sleep(QUIET_WAIT)  # the files at rest, as a user finds them
    for _ in range(3):
        runs = store.list_runs()
    warm = _median_ms(store.list_runs)
    first = page_runs(runs, limit=50)
    first_ms = _median_ms(lambda: page_runs(store.list_runs(), limit=50))
    next_ms = _median_ms(lambda: page_runs(store.list_runs(), after=first.next, limit=50))
    errors = parse_filter("ERROR")
    filtered_ms = _median_ms(lambda: page_runs(store.list_runs(), errors, limit=50))
    project = Project(project_id=store.project_id, name="scale", path=str(store.state_dir.parent.parent))
    overview(project, store)
    overview_ms = _median_ms(lambda: overview(project, store), 5)
    recount_ms = _median_ms(lambda: _recount(store), 3)
    for one in small:
        one.list_runs()
    time.sleep(QUIET_WAIT)
    cli_warm = statistics.median(_cli_seconds("runs", big.project_id, "--limit", "50") for _ in range(3))
    cli_floor = statistics.median(_cli_seconds("--version") for _ in range(3))
    results = [
        Result("20", f"{PROJECTS} projects × {per_project:,} runs and one of {n:,}, written as another tool would",
               f"{made:.0f} s"),
        Result("20", f"  {n:,} runs: the listing, first time (the index built)", f"{listed * 1000:,.0f} ms"),
        Result("20", "  the listing, warm", f"{warm:.1f} ms"),
        Result("20", "  the first page of 50 (listing included)", f"{first_ms:.1f} ms", "<= 10 ms",
               verdict(first_ms <= 10)),
        Result("20", "  the next page of 50", f"{next_ms:.1f} ms"),
        Result("20", "  the first page of ERROR runs", f"{filtered_ms:.1f} ms"),
        Result("20", "  the overview, from the kept tally", f"{overview_ms:.2f} ms", "",
               f"counting the listing: {recount_ms:.0f} ms"),
        Result("20", "  `pmdesk runs --limit 50`, cold (the first listing ever)", f"{cli_cold:.2f} s"),
        Result("20", "  `pmdesk runs --limit 50`, warm", f"{cli_warm * 1000:.0f} ms", "",
               f"`pmdesk --version`: {cli_floor * 1000:.0f} ms"),
    ]
    start = time.perf_counter()
    asyncio.run(engine.search("refactor"))  # the search index caught up, as a long-running pmdesk keeps it
    caught_up = time.perf_counter() - start
    results.append(Result("20", "  the search index's first catch-up (once per project, ever)", f"{caught_up:.1f} s"))
    results += _api(big.project_id, quick)
    results += _window(quick)
    return results


def _window(quick: bool) -> list[Result]:
    """The window with every project registered above: the dashboard listed against a bare
    PySide6 window's first paint; then 50 runs streaming 200 lines/s each into it."""
    from benchmarks.bench_ui import _pmdesk_paint, _probe
    from pmdesk.engine.engine import Engine
    from pmdesk.engine.overview import write_cached
    from pmdesk.ui.dashboard_cache import cached_dashboard_path

    engine = Engine()  # the dashboard as the last session left it (the window keeps it as it changes)
    write_cached(cached_dashboard_path(), [engine.overview(p) for p in engine.projects()])
    bare, listed, ready = [], [], []
    for _ in range(3 if quick else 5):  # alternate, so both see the same machine
        bare.append(_probe("paint", "bare")["seconds"])
        listed.append(_pmdesk_paint("listed"))
        ready.append(_pmdesk_paint("ready"))
    b, r, fresh = statistics.median(bare), statistics.median(listed), statistics.median(ready)
    seconds = 20 if quick else 600
    live = _probe("lag", str(seconds), "50", "200", timeout=seconds + 300)
    floor = _probe("lag-floor", str(min(seconds, 60)), "50", "200", timeout=seconds + 300)
    return [
        Result("20", f"start to the window listing its {PROJECTS + 1} projects (as last seen)", f"{r * 1000:.0f} ms"),
        Result("20", f"  against a bare PySide6 window's first paint ({b * 1000:.0f} ms), ratio", f"{r / b:.2f}",
               "<= 1.5", verdict(r / b <= 1.5)),
        Result("20", "  start to the dashboard refreshed from the files (engine loaded)", f"{fresh * 1000:.0f} ms"),
        Result("20", f"50 runs × 200 lines/s for {seconds} s into the open window ({int(live['lines']):,} lines)",
               f"{live['lines'] / seconds:,.0f} lines/s"),
        Result("20", "  frame lag p99 (5 ms timer probe)", f"{live['p99'] * 1000:.1f} ms", "<= 16 ms",
               verdict(live["p99"] <= 0.016)),
        Result("20", "  frame lag max", f"{live['max'] * 1000:.1f} ms"),
        Result("20", "  the floor: a bare window draining the same 50 streams, lag p99 / max",
               f"{floor['p99'] * 1000:.1f} / {floor['max'] * 1000:.1f} ms"),
        Result("20", f"  resident memory: at start ({int(live['projects'])} projects)", f"{live['rss_start']:.0f} MiB"),
        Result("20", "  resident memory: at the stream's end / its peak",
               f"{live['rss_streaming']:.0f} / {live['rss_peak']:.0f} MiB", "<= 150 MiB",
               verdict(live["rss_peak"] <= 150)),
        Result("20", "  resident memory: after the runs ended", f"{live['rss_after']:.0f} MiB"),
    ]


def _recount(store: object) -> None:
    """What the overview cost before it was kept: a pass over the whole listing."""
    from pmdesk.store.tally import RunTally

    RunTally.build(store.list_runs())  # type: ignore[attr-defined]


def _api(big_id: str, quick: bool) -> list[Result]:
    paths = {
        f"GET /api/projects ({PROJECTS + 1} projects)": "/api/projects",
        "GET /api/projects/:id/runs?limit=50 (the year's first page)": f"/api/projects/{big_id}/runs?limit=50",
        "GET /api/openapi.json (a document held ready)": "/api/openapi.json",
    }
    count = 200 if quick else 1_000
    results: list[Result] = []

    async def measure(base: str, headers: dict[str, str]) -> None:
        async with aiohttp.ClientSession(headers=headers) as session:
            for name, path in paths.items():
                await _latency(session, base + path, 20)
                times = await _latency(session, base + path, count)
                p50, p99 = percentile(times, 50), percentile(times, 99)
                target = "<= 3 ms" if path == "/api/projects" else "<= 10 ms" if "runs" in path else ""
                ok = verdict(p50 <= (0.003 if path == "/api/projects" else 0.010)) if target else ""
                results.append(Result("20", f"{name}: p50 / p99", f"{ms(p50)} / {ms(p99)}", target, ok))
        rates = {path: await _throughput(base, headers, path, 16, count * 2) for path in paths.values()}
        static = rates["/api/openapi.json"]
        for name, path in paths.items():
            rate = rates[path]
            target = ">= 1,000 req/s" if path == "/api/projects" else ""
            results.append(Result("20", f"{name}: 16 clients", f"{rate:,.0f} req/s", target,
                                  verdict(rate >= 1000) if target else f"{rate / static:.2f} of the document's"))

    against_server(measure)
    return results
