"""The process the kill -9 probe kills: an engine doing one kind of work, as fast as it can.

argv: kind (run | dispatch | respond | verify | serve), project path, seed. Prints "ready" once the
engine is up; everything after that may be cut off at any instant.
"""

from __future__ import annotations

import asyncio
import random
import sys

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PlanStatus, TaskState

PY = sys.executable


async def main(kind: str, path: str, seed: int) -> None:
    rng = random.Random(seed)
    engine = Engine()
    engine.recover()
    project = next(p for p in engine.projects() if p.path == path)
    if kind == "serve":  # the API serving while it works: killed with its server up
        from pmdesk.api.server import ApiServer

        await ApiServer(engine, "127.0.0.1", 0).start()
        kind = "dispatch"
    print("ready", flush=True)
    chatty = f"{PY} -c \"import time\nfor i in range(400): print('line', i, flush=True); time.sleep(0.002)\""
    while True:
        if kind == "run":
            run = engine.runs.create(project, f"run {rng.random()}", executor=ExecutorKind.COMMAND, command=chatty)
            await engine.runs.start(project, run.run_id)
            await engine.runs.wait(run.run_id)
        elif kind == "dispatch":
            tasks = [{"id": f"t{i}", "description": f"task {i}", "dependencies": [f"t{i - 1}"] if i % 3 else []}
                     for i in range(rng.randint(3, 12))]
            plan = engine.plans.plan_from_answer(project, {"tasks": tasks})
            await engine.plans.dispatch(project, plan.plan_id, max_parallel=4, executor=ExecutorKind.COMMAND,
                                        command=chatty)
            await engine.plans.wait(plan.plan_id)
        elif kind == "respond":
            run = engine.runs.create(project, "pick [ask]", executor=ExecutorKind.CLAUDE_CODE)
            await engine.runs.start(project, run.run_id)
            await engine.runs.wait(run.run_id)
            if engine.store(project).get_run(run.run_id).status == TaskState.AWAITING_RESPONSE:
                await engine.answer(project, run.run_id, "SQLite")
                await engine.runs.wait(run.run_id)
        elif kind == "verify":
            plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "a"}]})
            await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="true")
            await engine.plans.wait(plan.plan_id)
            if engine.store(project).get_plan(plan.plan_id).status == PlanStatus.RUNNING:
                await engine.plans.verify(project, plan.plan_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
