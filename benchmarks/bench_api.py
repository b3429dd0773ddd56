"""Issue 7: the HTTP API on a project with 10,000 runs, from a local client.

Latency is sequential requests on one keep-alive connection; throughput is 16 clients at
once. The server is a real `pmdesk serve` process; client and server share the machine's
two cores, so the numbers are what one local script sees, not the server's ceiling.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.bench_store import QUIET_WAIT, generate
from benchmarks.common import ROOT, Result, ms, percentile
from pmdesk.models import Plan, PlanTask, new_id


def _start_server() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen([sys.executable, "-m", "pmdesk", "serve", "--port", "0"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.split(" on ", 1)[1].split("/api", 1)[0]
    token = (Path(os.environ["XDG_CONFIG_HOME"]) / "pmdesk" / "api-token").read_text().strip()
    return process, url, token


def against_server(measure: Callable[[str, dict[str, str]], Coroutine[Any, Any, None]]) -> None:
    """``measure(base_url, headers)`` against a real `pmdesk serve`, stopped afterwards."""
    process, base, token = _start_server()
    try:
        asyncio.run(measure(base, {"Authorization": f"Bearer {token}"}))
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _latency(session: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        async with session.get(url) as answer:
            await answer.read()
            assert answer.status == 200, answer.status
        times.append(time.perf_counter() - start)
    return times


async def _throughput(base: str, headers: dict[str, str], path: str, clients: int, total: int) -> float:
    per_client = total // clients

    async def one() -> None:
        async with aiohttp.ClientSession(headers=headers) as session:
            await _latency(session, base + path, per_client)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    return per_client * clients / (time.perf_counter() - start)


def run(quick: bool, root: Path) -> list[Result]:
    from pmdesk.engine.engine import Engine

    n_runs = 2_000 if quick else 10_000
    requests = 200 if quick else 1_000
    store, _ = generate(root / "api", n_runs, 1)
    engine = Engine()
    project = engine.add_project(str(store.state_dir.parent.parent), "big")
    plan = Plan(plan_id=new_id("plan"), project_id=project.project_id, tasks=[
        PlanTask(task_id=new_id("ptask"), description=f"task {i}", priority=i % 3 + 1) for i in range(20)])
    store.put_plan(plan)
    store.list_runs()  # the index exists, as it does after the first listing in real use
    time.sleep(QUIET_WAIT)  # a project at rest: no file written in the last two seconds
    paths = {
        "GET /api/plans/:planId": f"/api/plans/{plan.plan_id}",
        "GET /api/projects (listing)": "/api/projects",
        f"GET /api/projects/:id/runs ({n_runs:,} runs, a page of 200)": f"/api/projects/{project.project_id}/runs",
        "GET /api/projects/:id/runs?limit=50 (the first page)": f"/api/projects/{project.project_id}/runs?limit=50",
        "GET /api/openapi.json (baseline)": "/api/openapi.json",
    }
    results: list[Result] = []

    async def measure(base: str, headers: dict[str, str]) -> None:
        async with aiohttp.ClientSession(headers=headers) as session:
            for name, path in paths.items():
                count = requests if "runs" not in path else max(50, requests // 10)
                await _latency(session, base + path, 20)  # warm
                times = await _latency(session, base + path, count)
                results.append(Result("7", f"{name}: p50 / p99 over {count}",
                                      f"{ms(percentile(times, 50))} / {ms(percentile(times, 99))}"))
        for name, path in paths.items():
            if "runs" in path:
                continue
            rps = await _throughput(base, headers, path, 16, requests * 2)
            results.append(Result("7", f"{name}: 16 concurrent clients", f"{rps:,.0f} req/s"))

    against_server(measure)
    return results
