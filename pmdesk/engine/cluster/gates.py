"""Verify's gates on a cluster (``pmdesk verify PLAN --on ray://…``): the integration branch goes to a
worker as a bundle, the worker runs the same gate code in order, and each gate's lines and check come
back as they happen. Verify runs here by default; this is the option."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pmdesk.engine.cluster import bundles
from pmdesk.engine.cluster.connection import ACTOR_PREFIX, CPUS_PER_RUN, call, connect
from pmdesk.engine.cluster.remote import actor_class, node_name
from pmdesk.engine.cluster.worker import GatesPayload
from pmdesk.engine.gates import Gate
from pmdesk.models import GateCheck


class RemoteGates:
    """One verify's gates on a worker; ``cancel`` ends the gate at work there and the rest are not run."""

    def __init__(self, address: str, token: str | None) -> None:
        self.address = address
        self.token = token
        self.actor: Any = None
        self.cancelled = False

    async def run(self, run_id: str, cwd: Path, gates: list[Gate], setup: list[str],
                  say: Callable[[str, list[str], dict[str, Any] | None], None],
                  started: Callable[[Gate], None], checked: Callable[[Gate, GateCheck], None]) -> str:
        """Run ``gates`` on a clone of ``cwd``'s branch; returns the node they ran on."""
        ray = await connect(self.address, self.token)
        branch = await asyncio.to_thread(bundles.current_branch, cwd)
        start = await asyncio.to_thread(bundles.pack_start, cwd, branch)

        def make() -> Any:
            return actor_class(ray).options(name=f"{ACTOR_PREFIX}{run_id}", num_cpus=CPUS_PER_RUN, max_restarts=0,
                                            max_task_retries=0).remote()

        self.actor = await asyncio.to_thread(make)
        by_name = {g.name: g for g in gates}
        node = "?"
        try:
            info = await call(self.actor.where.remote())
            node = node_name(info)
            say("system", [f"verifying on {node} of {self.address}"], {"node": node})
            await call(self.actor.verify.remote(GatesPayload(run_id=run_id, branch=branch, start_bundle=start,
                                                             gates=gates, setup=setup)))
            seen = 0
            while True:
                items = await call(self.actor.stream.remote(seen))
                seen += len(items)
                for item in items:
                    if item[0] == "event":
                        say(item[1], item[2], item[3])
                    elif item[0] == "gate":
                        started(by_name[item[1]])
                    elif item[0] == "check":
                        check: GateCheck = item[1]
                        checked(by_name.get(check.name) or Gate(check.name, None), check)
                    elif item[0] == "done":
                        return node
        except Exception as exc:
            if self.cancelled:
                return node
            lost = GateCheck(name="gate:all", passed=False,
                             message=f"node lost: verify's node {node} went away ({str(exc).splitlines()[0][:200]})")
            checked(Gate("gate:all", None), lost)
            return node
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call(self.actor.close.remote()), 15)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ray.kill, self.actor)

    async def cancel(self) -> None:
        self.cancelled = True
        if self.actor is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call(self.actor.cancel_gates.remote()), 15)
