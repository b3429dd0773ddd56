"""Issue 18: search over a million events in 20 projects, against grep over the same JSONL;
the index's size against the JSONL's; a streaming run's wall time with the indexer at work."""

from __future__ import annotations

import asyncio
import json
import random
import string
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_engine import PRINTER
from benchmarks.common import Result, median, paired_ratio, percentile, spread, verdict

PROJECTS = 20
RUNS_PER_PROJECT = 25
KINDS = (["stdout"] * 12 + ["assistant"] * 3 + ["tool_use"] * 2 + ["tool_result"] * 2 + ["gate"])
PLANTED = "flaky integration timeout"  # a phrase in one line of a thousand


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = string.ascii_lowercase
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def _corpus(root: Path, events: int) -> tuple[list[object], list[Path], list[str]]:
    """Projects with runs whose day files hold ``events`` lines in all, written as the recorder writes them."""
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind

    rng = random.Random(18)
    words = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words are everywhere
    engine = Engine()
    projects, folders = [], []
    per_run = events // (PROJECTS * RUNS_PER_PROJECT)
    pool = rng.choices(words, weights, k=200_000)
    at = 0
    for p in range(PROJECTS):
        folder = root / f"project-{p:02d}"
        folder.mkdir(parents=True)
        project = engine.add_project(str(folder), f"project-{p:02d}")
        projects.append(project)
        for r in range(RUNS_PER_PROJECT):
            run = engine.runs.create(project, f"run {r} of project {p}: " + " ".join(rng.sample(words[:2000], 8)),
                                     executor=ExecutorKind.COMMAND, command="true")
            day = engine.store(project).state_dir / "events" / run.run_id
            day.mkdir(parents=True, exist_ok=True)
            lines = []
            for seq in range(1, per_run + 1):
                n = rng.randint(8, 14)
                if at + n > len(pool):
                    at = 0
                text = " ".join(pool[at:at + n])
                at += n
                if rng.random() < 0.001:
                    text += f" {PLANTED}"
                lines.append(json.dumps({"seq": seq, "ts": f"2026-11-{1 + r % 28:02d}T10:{seq // 60 % 60:02d}:"
                                                           f"{seq % 60:02d}.000Z",
                                         "kind": rng.choice(KINDS), "text": text}))
            (day / "2026-11-01.jsonl").write_text("\n".join(lines) + "\n")
        folders.append(engine.store(project).state_dir / "events")
    return projects, folders, words


def _queries(words: list[str]) -> dict[str, str]:
    return {"a rare word": words[15_000], "a common word": words[3], "two words": f"{words[40]} {words[90]}",
            "a phrase": f'"{PLANTED}"', "a prefix": words[200][:4] + "*"}


def _grep(folders: list[Path], query: str) -> float:
    """grep over the same JSONL: the reference (every term, case-insensitive, as fixed strings)."""
    terms = [t for t in query.replace('"', "").split()]
    first = terms[0].rstrip("*")
    start = time.perf_counter()
    grep = subprocess.run(["grep", "-r", "-i", "-F", first, *map(str, folders)], stdout=subprocess.PIPE, check=False)
    for term in terms[1:]:  # the other words of the query, on what the first found
        subprocess.run(["grep", "-i", "-F", term.rstrip("*")], input=grep.stdout, stdout=subprocess.DEVNULL,
                       check=False)
    return time.perf_counter() - start


async def _stream(folder: Path, script: Path, index: bool) -> float:
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind

    engine = Engine()
    try:
        project = engine.add_project(str(folder))
    except Exception:
        project = engine.project(str(folder))
    if index:
        engine.searching.index(project).catch_up()  # up to date (the run before was not indexed): what is
        engine.index_in_background()                 # measured is the indexer following this run
        assert engine.indexer is not None
        engine.indexer.ready.wait()
    start = time.perf_counter()
    run = await engine.runs.launch(project, "stream", executor=ExecutorKind.COMMAND, command=f"{sys.executable} {script}")
    await engine.runs.wait(run.run_id)
    elapsed = time.perf_counter() - start
    if index and engine.indexer is not None:
        engine.indexer.catch_up_now()
    await engine.shutdown()
    return elapsed


def run(quick: bool, root: Path) -> list[Result]:
    from pmdesk.engine.search import SearchService

    events = 100_000 if quick else 1_000_000
    made = time.perf_counter()
    projects, folders, words = _corpus(root / "search", events)
    made = time.perf_counter() - made
    from pmdesk.engine.engine import Engine

    engine = Engine()
    service: SearchService = engine.searching
    start = time.perf_counter()
    done = service.reindex(projects)  # type: ignore[arg-type]
    build = time.perf_counter() - start
    rows = sum(d.rows for d in done)
    index_bytes = sum(d.bytes for d in done)
    jsonl_bytes = sum(p.stat().st_size for f in folders for p in f.rglob("*.jsonl"))

    times: list[float] = []
    per_query: dict[str, float] = {}
    greps: dict[str, float] = {}
    for name, query in _queries(words).items():
        taken = []
        for _ in range(5 if quick else 20):
            t = time.perf_counter()
            service.search(projects, query, limit=50)  # type: ignore[arg-type]
            taken.append(time.perf_counter() - t)
        times.extend(taken)
        per_query[name] = median(taken)
        greps[name] = min(_grep(folders, query) for _ in range(2 if quick else 3))
    p50, p99 = percentile(times, 50), percentile(times, 99)
    grep_median = median(list(greps.values()))

    # A streaming run with and without the indexer following it, alternated.
    lines = 20_000 if quick else 100_000
    script = root / "search-printer.py"
    script.write_text(PRINTER.format(n=lines))
    stream = root / "search-stream"
    stream.mkdir()
    with_index, without = [], []
    for _ in range(3 if quick else 5):
        without.append(asyncio.run(_stream(stream, script, index=False)))
        with_index.append(asyncio.run(_stream(stream, script, index=True)))
    ratio = paired_ratio(with_index, without)

    results = [
        Result("18", f"corpus: {rows:,} searchable lines in {PROJECTS} projects ({events:,} events)",
               f"{jsonl_bytes / 2**20:.0f} MiB JSONL", "", f"made in {made:.0f} s"),
        Result("18", "index built from the JSONL", f"{build:.1f} s", "", f"{rows / build:,.0f} lines/s"),
        Result("18", "index size / JSONL size", f"{index_bytes / jsonl_bytes:.2f}", "a fraction",
               verdict(index_bytes < jsonl_bytes)),
        Result("18", "query p50 (5 kinds of query, 20 projects)", f"{p50 * 1000:.1f} ms", "<= 20 ms", verdict(p50 <= 0.020)),
        Result("18", "query p99", f"{p99 * 1000:.1f} ms", "<= 100 ms", verdict(p99 <= 0.100)),
    ]
    for name, taken in per_query.items():
        results.append(Result("18", f"  {name}: pmdesk / grep -r", f"{taken * 1000:.1f} / {greps[name] * 1000:.0f} ms",
                              "", f"grep takes {greps[name] / taken:.0f}×"))
    results += [
        Result("18", "grep -r over the same JSONL (median of the queries)", f"{grep_median * 1000:.0f} ms", "",
               f"grep / pmdesk p50 {grep_median / p50:.0f}×"),
        Result("18", f"a {lines:,}-line run: wall time with the indexer / without", f"{ratio:.3f}", "<= 1.05",
               verdict(ratio <= 1.05)),
        Result("18", "  the pairs' ratios, lowest and highest", spread(with_index, without)),
    ]
    return results
