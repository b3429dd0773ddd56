"""This process's link to a Ray cluster: the address checked, reached within seconds, and asked.

Ray keeps one connection per process, so pmdesk does too: the first cluster run connects, and a run
asking for another cluster while runs work on the first is refused with a message. Everything that
imports or calls Ray runs in a worker thread, never on the loop's (the window's) thread.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import threading
import time
from typing import Any

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Model

NAMESPACE = "pmdesk"
ACTOR_PREFIX = "pmdesk-run-"
CPUS_PER_RUN = 1.0  # what one agent run asks of the cluster: a CPU, so the cluster's CPUs bound its runs
PROBE_TIMEOUT_S = 3.0
# A busy head's proxy can fail to start the server it starts for each client ("Starting Ray client
# server failed", its log empty), and the next connection is served: that refusal is tried again.
PASSING_REFUSAL = "Starting Ray client server failed"
CONNECT_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 60.0  # a reachable head that is slow to answer (a loaded machine); unreachable is refused in PROBE_TIMEOUT_S
INSTALL_HINT = "install the extra: pip install 'pmdesk[ray]' (here and on the cluster's nodes)"
_ADDRESS = re.compile(r"^ray://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


class ClusterError(PmdeskError, RuntimeError):
    """The cluster cannot be used: not installed, not reachable, or not answering as a Ray cluster."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "cluster_unavailable"


class NodeInfo(Model):
    node_id: str
    ip: str
    alive: bool
    cpus: float = 0.0


class ClusterStatus(Model):
    address: str
    nodes: list[NodeInfo]
    cpus: float  # on the nodes alive
    free_cpus: float
    takes: int  # runs it can take at once (one CPU each)
    runs: list[str]  # pmdesk's runs working there now (run ids)


def parse_address(text: str) -> str:
    """``ray://HOST:PORT`` (the Ray client's address); ``HOST:PORT`` is taken as one."""
    address = text.strip()
    if address and "://" not in address:
        address = f"ray://{address}"
    found = _ADDRESS.match(address)
    if not found or not 0 < int(found["port"]) < 65536:
        raise ClusterError(f"{text!r} is not a cluster address: write ray://HOST:PORT (the head's Ray client "
                           "port, 10001 by default)", kind=ErrorKind.BAD_INPUT)
    return address


def host_port(address: str) -> tuple[str, int]:
    found = _ADDRESS.match(address)
    assert found is not None
    return found["host"].strip("[]"), int(found["port"])


async def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Refuse a cluster that cannot be reached, within ``timeout`` seconds and with the reason."""
    host, port = host_port(address)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        raise ClusterError(f"the Ray cluster at {address} does not answer (no connection within {timeout:g} s): "
                           "is its head running, and its client port open to this machine?") from None
    except OSError as exc:
        raise ClusterError(f"the Ray cluster at {address} cannot be reached: {exc.strerror or exc}. Is its head "
                           f"running with a Ray client server on port {port}?") from None
    writer.close()


def ray_module() -> Any:
    """Ray, imported (seconds, the first time: call from a thread)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ClusterError(f"Ray is not installed: {INSTALL_HINT}") from None


class _Link:
    """The one connection, guarded: connect, switch when nothing works on the old one."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.users = 0  # runs working on the connected cluster
        self.lock = threading.Lock()

    def connect(self, address: str, token: str | None) -> Any:
        ray = ray_module()
        with self.lock:
            if self.address == address and ray.is_initialized():
                return ray
            if self.address is not None and self.users:
                raise ClusterError(f"this pmdesk works on the cluster {self.address} now; a run on {address} can start "
                                   "once those runs end (one cluster at a time per process)",
                                   kind=ErrorKind.WRONG_STATE)
            if ray.is_initialized():
                ray.shutdown()
            if token:  # Ray reads its token from the environment; agents' environments leave it out
                os.environ["RAY_AUTH_MODE"] = "token"
                os.environ["RAY_AUTH_TOKEN"] = token
            for attempt in range(1, CONNECT_ATTEMPTS + 1):
                try:
                    ray.init(address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR")
                    break
                except Exception as exc:
                    if attempt == CONNECT_ATTEMPTS or PASSING_REFUSAL not in str(exc):
                        raise ClusterError(f"the Ray cluster at {address} refused the connection: {exc}") from None
                    if ray.is_initialized():
                        ray.shutdown()
                    time.sleep(1.0)
            self.address = address
            return ray


LINK = _Link()


async def connect(address: str, token: str | None = None) -> Any:
    """Ray, connected to ``address``: refused within seconds when it cannot be reached."""
    await probe(address)
    try:
        return await asyncio.wait_for(asyncio.to_thread(LINK.connect, address, token), CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ClusterError(f"{address} accepts connections but did not answer as a Ray cluster within "
                           f"{CONNECT_TIMEOUT_S:g} s (is that port the head's Ray client port?)") from None


def status_now(ray: Any, address: str) -> ClusterStatus:
    """Nodes, CPUs and pmdesk's runs there (blocking: a thread)."""
    nodes = [NodeInfo(node_id=n["NodeID"], ip=n.get("NodeManagerAddress", "?"), alive=bool(n.get("Alive")),
                      cpus=float((n.get("Resources") or {}).get("CPU", 0.0))) for n in ray.nodes()]
    cpus = sum(n.cpus for n in nodes if n.alive)
    free = float(ray.available_resources().get("CPU", 0.0))
    names = ray.util.list_named_actors()
    runs = sorted(name[len(ACTOR_PREFIX):] for name in names if isinstance(name, str) and name.startswith(ACTOR_PREFIX))
    return ClusterStatus(address=address, nodes=nodes, cpus=cpus, free_cpus=free, takes=int(cpus // CPUS_PER_RUN),
                         runs=runs)


async def status(address: str, token: str | None = None) -> ClusterStatus:
    ray = await connect(address, token)
    return await asyncio.to_thread(status_now, ray, address)


def status_text(found: ClusterStatus) -> str:
    lines = [f"cluster {found.address}: {len([n for n in found.nodes if n.alive])} nodes alive, "
             f"{found.free_cpus:g} of {found.cpus:g} CPUs free, takes {found.takes} runs at once"]
    for node in found.nodes:
        lines.append(f"  node {node.node_id[:12]}  {node.ip:<15}  {node.cpus:g} CPUs  "
                     + ("alive" if node.alive else "gone"))
    lines.append(f"pmdesk runs working there: {len(found.runs)}"
                 + ("".join(f"\n  {run_id}" for run_id in found.runs)))
    return "\n".join(lines)


async def call(ref: Any) -> Any:
    """An actor call's result, awaited on any loop (Ray's own futures, wrapped)."""
    return await asyncio.wrap_future(ref.future())
