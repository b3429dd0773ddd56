"""Issue 20, in part: one project with a year of runs (100,000; 20,000 with --quick), written as
another tool would. The run listing warm, a page of runs (first and next), and the overview the
dashboard shows, each the median of a few, in this process."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from benchmarks.bench_store import generate
from benchmarks.common import Result, verdict


def _median_ms(fn: object, n: int = 5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(quick: bool, root: Path) -> list[Result]:
    from pmdesk.engine.listing import page_runs, parse_filter
    from pmdesk.engine.overview import overview
    from pmdesk.models import Project

    n = 20_000 if quick else 100_000
    made = time.perf_counter()
    store, _ = generate(root / "scale", n, 0)
    made = time.perf_counter() - made
    start = time.perf_counter()
    runs = store.list_runs()
    cold = time.perf_counter() - start
    for _ in range(3):  # the index settles: the files are at rest
        runs = store.list_runs()
    warm = _median_ms(store.list_runs)
    first = page_runs(runs, limit=50)
    first_ms = _median_ms(lambda: page_runs(store.list_runs(), limit=50))
    next_ms = _median_ms(lambda: page_runs(store.list_runs(), after=first.next, limit=50))
    errors = parse_filter("ERROR")
    filtered_ms = _median_ms(lambda: page_runs(store.list_runs(), errors, limit=50))
    project = Project(project_id=store.project_id, name="scale", path=str(store.state_dir.parent.parent))
    overview_ms = _median_ms(lambda: overview(project, store), 3)
    return [
        Result("20", f"{n:,} runs written as another tool would", f"{made:.0f} s"),
        Result("20", "  the run listing, cold (the index built)", f"{cold:.1f} s"),
        Result("20", "  the run listing, warm", f"{warm:.1f} ms"),
        Result("20", "  the first page of 50 (listing included)", f"{first_ms:.1f} ms", "<= 10 ms", verdict(first_ms <= 10)),
        Result("20", "  the next page of 50", f"{next_ms:.1f} ms"),
        Result("20", "  the first page of ERROR runs", f"{filtered_ms:.1f} ms"),
        Result("20", "  the project's overview (counts, status, cost)", f"{overview_ms:.1f} ms"),
    ]
