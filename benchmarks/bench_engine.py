"""Issues 4 and 5: output throughput of a run, scheduling overhead, verify overhead."""

from __future__ import annotations

import asyncio
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Result, median, paired_ratio, spread, verdict


def _project(engine: object, path: Path) -> object:
    from pmdesk.store.registry import RegistryError

    try:
        return engine.add_project(str(path))  # type: ignore[attr-defined]
    except RegistryError:
        return engine.project(str(path))  # type: ignore[attr-defined]


PRINTER = ("import sys\nw = sys.stdout.write\n"
           "for i in range({n}):\n    w(f'line {{i}}: compiling module {{i % 97}} of the project, 3 warnings\\n')\n")


class StallWatch:
    """How long the event loop went without running a 1 ms timer: what the window would feel.

    The engine shares its loop with the window, so a stall here is a frozen frame there.
    """

    def __init__(self) -> None:
        self.stalls: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.stalls.append(time.perf_counter() - start - 0.001)

    def __enter__(self) -> StallWatch:
        self._task = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    @property
    def longest(self) -> float:
        return max(self.stalls, default=0.0)


async def _through_pmdesk(project_dir: Path, script: Path) -> tuple[float, int, float]:
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind

    engine = Engine()
    project = _project(engine, project_dir)
    start = time.perf_counter()
    with StallWatch() as watch:
        run = await engine.runs.launch(project, "print", executor=ExecutorKind.COMMAND,
                                       command=f"{sys.executable} {script}")
        await engine.runs.wait(run.run_id)
    elapsed = time.perf_counter() - start
    count = engine.store(project).last_event_seq(run.run_id)
    await engine.shutdown()
    return elapsed, count, watch.longest


async def _discarding_reader(script: Path) -> float:
    """The floor of any reader: the same process on a pipe whose output is read and dropped."""
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    while await proc.stdout.read(1 << 20):
        pass
    await proc.wait()
    return time.perf_counter() - start


def _into_cat(script: Path) -> float:
    """The plainest reader there is: the shell's ``| cat > /dev/null``, no Python on the reading side."""
    start = time.perf_counter()
    subprocess.run(f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} | cat > /dev/null", shell=True,
                   check=True)
    return time.perf_counter() - start


def run_output(quick: bool, root: Path) -> list[Result]:
    n = 20_000 if quick else 100_000
    project_dir = root / "throughput"
    project_dir.mkdir()
    script = root / "printer.py"
    script.write_text(PRINTER.format(n=n))
    direct, cat, floor, through, stalls, events = [], [], [], [], [], 0
    for _ in range(5 if quick else 9):  # alternate, so all four see the same machine
        t = time.perf_counter()
        subprocess.run([sys.executable, str(script)], stdout=subprocess.DEVNULL, check=True)
        direct.append(time.perf_counter() - t)
        cat.append(_into_cat(script))
        floor.append(asyncio.run(_discarding_reader(script)))
        elapsed, events, stall = asyncio.run(_through_pmdesk(project_dir, script))
        through.append(elapsed)
        stalls.append(stall)
    ratio, floor_ratio = paired_ratio(through, direct), paired_ratio(floor, direct)
    return [
        Result("4", f"run printing {n:,} lines, to /dev/null", f"{min(direct):.3f} s"),
        Result("4", "same run piped into `cat > /dev/null`", f"{min(cat):.3f} s", "",
               f"cat / direct {paired_ratio(cat, direct):.2f}"),
        Result("4", "same run on a pipe, read and dropped (the floor)", f"{min(floor):.3f} s", "",
               f"floor / direct {floor_ratio:.2f}"),
        Result("4", f"same run through pmdesk ({events:,} events persisted)", f"{min(through):.3f} s"),
        Result("4", "pmdesk / direct (median of paired ratios)", f"{ratio:.2f}", "<= 1.2", verdict(ratio <= 1.2)),
        Result("4", "  the pairs' ratios, lowest and highest", spread(through, direct)),
        Result("4", "pmdesk / floor (pmdesk's own share)", f"{paired_ratio(through, floor):.2f}"),
        Result("4", "events persisted per second", f"{events / min(through):,.0f}/s"),
        Result("4", "longest event-loop stall meanwhile (median of runs)", f"{median(stalls) * 1000:.1f} ms",
               "< 16 ms", verdict(median(stalls) < 0.016)),
    ]


async def _schedule(project_dir: Path, tasks: int, in_place: bool) -> tuple[float, list[str], float]:
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind

    engine = Engine()
    project = engine.add_project(str(project_dir), project_dir.name)
    graph = []
    for i in range(tasks):  # a layered graph: each task depends on up to two of the previous layer
        deps = [f"t{j}" for j in (i - 5, i - 7) if j >= 0]
        graph.append({"id": f"t{i}", "description": f"task {i}", "priority": 1 + i % 5, "dependencies": deps})
    plan = engine.plans.plan_from_answer(project, {"tasks": graph})
    start = time.perf_counter()
    with StallWatch() as watch:
        await engine.plans.dispatch(project, plan.plan_id, max_parallel=8, executor=ExecutorKind.COMMAND, command="true",
                                    in_place=in_place)
        await engine.plans.wait(plan.plan_id)
    elapsed = time.perf_counter() - start
    final = engine.store(project).get_plan(plan.plan_id)
    await engine.shutdown()
    return elapsed, [t.status.value for t in final.tasks], watch.longest


def _git_project(path: Path) -> Path:
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b",
                                                                "commit", "-q", "--allow-empty", "-m", "base"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


async def _contained_floor(root: Path, tasks: int, durable: bool) -> float:
    """``tasks`` instant processes one after another as pmdesk starts each (niced, in bubblewrap,
    through the loop), waited for; ``durable``: with the two crash-safe writes a task's run needs
    in its chain (RUNNING before its start, its end after), each a 1 kB file made durable."""
    from pmdesk.executors.process import spawn
    from pmdesk.store.atomic import atomic_write_bytes

    record = root / "floor-record.json"
    start = time.perf_counter()
    for _ in range(tasks):
        if durable:
            atomic_write_bytes(record, b"x" * 1024)
        child = await spawn(["true"], str(root))
        await asyncio.gather(child.pump(lambda _: None, lambda _: None), child.process.wait())
        if durable:
            atomic_write_bytes(record, b"y" * 1024)
    return time.perf_counter() - start


def run_scheduling(quick: bool, root: Path) -> list[Result]:
    tasks = 50
    contained, with_writes, in_place_runs = [], [], []
    for _ in range(3 if quick else 5):  # alternate, so the floors and pmdesk see the same machine
        contained.append(asyncio.run(_contained_floor(root, tasks, False)))
        with_writes.append(asyncio.run(_contained_floor(root, tasks, True)))
        in_place_runs.append(asyncio.run(_schedule(_git_project(root / f"graph{len(in_place_runs)}"), tasks, True)))
    in_place, statuses, stall = sorted(in_place_runs)[len(in_place_runs) // 2]
    isolated, isolated_statuses, isolated_stall = asyncio.run(_schedule(_git_project(root / "isolated"), tasks, False))
    # The floors: the same 50 processes started back to back with nothing around them, and the
    # same 50 worktrees made and removed by git alone.
    t = time.perf_counter()
    for _ in range(tasks):
        subprocess.run(["true"], check=True)
    floor = time.perf_counter() - t
    repo = _git_project(root / "floor")
    t = time.perf_counter()
    for i in range(tasks):
        subprocess.run(["git", "worktree", "add", "-q", "-b", f"t{i}", str(root / "wt" / str(i))], cwd=repo, check=True)
    git_floor = time.perf_counter() - t
    ok = all(s == "COMPLETE" for s in statuses)
    ok_isolated = all(s == "COMPLETE" for s in isolated_statuses)
    bare, durable = statistics.median(contained), statistics.median(with_writes)
    return [
        Result("20", f"dispatch {tasks} instant tasks in place (dependency graph), to all settled", f"{in_place:.2f} s",
               "<= 0.5 s", verdict(in_place <= 0.5 and ok)),
        Result("20", "  per task: pmdesk / the process alone", f"{in_place / tasks * 1000:.1f} ms",
               "", f"`true` alone: {floor / tasks * 1000:.1f} ms each"),
        Result("20", f"  the floor: {tasks} `true` one after another as pmdesk starts them (niced, bubblewrap)",
               f"{bare:.2f} s", "", f"{bare / tasks * 1000:.1f} ms a task"),
        Result("20", "  the floor with the 2 durable writes a task needs (RUNNING before, its end after)",
               f"{durable:.2f} s", "", f"pmdesk is {in_place / durable:.2f}x this floor"),
        Result("20", "  longest event-loop stall meanwhile (the window's frame)", f"{stall * 1000:.1f} ms",
               "< 16 ms", verdict(stall < 0.016)),
        Result("15", f"dispatch {tasks} instant tasks, each in its own worktree (8 at once)", f"{isolated:.2f} s",
               "", "all COMPLETE" if ok_isolated else "NOT ALL COMPLETE"),
        Result("15", "  per task: pmdesk / `git worktree add` alone", f"{isolated / tasks * 1000:.1f} ms",
               "", f"git alone: {git_floor / tasks * 1000:.1f} ms each"),
        Result("15", "  longest event-loop stall meanwhile", f"{isolated_stall * 1000:.1f} ms",
               "< 16 ms", verdict(isolated_stall < 0.016)),
    ]


GATE = "const n = {n}; const w = (s) => process.stdout.write(s);\nlet buf = '';\n" \
       "for (let i = 0; i < n; i++) {{ buf += `[PASS] check ${{i}} of gate ${{process.argv[2]}}\\n`; " \
       "if (buf.length > 65536) {{ w(buf); buf = ''; }} }}\nw(buf);\n"


async def _verify(project_dir: Path) -> tuple[float, float]:
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind

    engine = Engine()
    project = _project(engine, project_dir)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="true", in_place=True)
    await engine.plans.wait(plan.plan_id)
    start = time.perf_counter()
    with StallWatch() as watch:
        result = await engine.plans.verify(project, plan.plan_id)
    elapsed = time.perf_counter() - start
    assert result.gate_result and result.gate_result.passed, result.gate_result
    await engine.shutdown()
    return elapsed, watch.longest


def run_verify(quick: bool, root: Path) -> list[Result]:
    per_gate = (20_000 if quick else 100_000) // 4
    project_dir = root / "gates"
    project_dir.mkdir()
    (project_dir / "gate.js").write_text(GATE.format(n=per_gate))
    names = ["gate:tier0", "gate:web", "gate:agent", "gate:spec"]
    (project_dir / "package.json").write_text(json.dumps(
        {"name": "gates", "version": "1.0.0", "scripts": {n: f"node gate.js {n}" for n in names}}))
    direct, through, stalls = [], [], []
    for _ in range(3 if quick else 9):  # alternate, so both see the same machine; npm's start-up is noisy
        t = time.perf_counter()
        for name in names:
            subprocess.run(["npm", "run", "--silent", name], cwd=project_dir, stdout=subprocess.DEVNULL, check=True)
        direct.append(time.perf_counter() - t)
        elapsed, stall = asyncio.run(_verify(project_dir))
        through.append(elapsed)
        stalls.append(stall)
    ratio = paired_ratio(through, direct)
    return [
        Result("5", f"4 npm gates printing {per_gate * 4:,} lines, run directly", f"{min(direct):.2f} s"),
        Result("5", "the same through verify (every line an event)", f"{min(through):.2f} s"),
        Result("5", "verify / direct (median of paired ratios)", f"{ratio:.2f}", "<= 1.10", verdict(ratio <= 1.10)),
        Result("5", "  the pairs' ratios, lowest and highest", spread(through, direct)),
        Result("5", "  longest event-loop stall during verify (median of runs)", f"{median(stalls) * 1000:.1f} ms",
               "< 16 ms", verdict(median(stalls) < 0.016)),
    ]
