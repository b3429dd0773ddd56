"""A real Ray cluster of one or two nodes on 127.0.0.1, for the tests and the benchmarks.

Each node is a ``ray start --block`` in a session of its own with one CPU, so two runs at once are
placed one on each node, and the second node can be killed alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
FAST_HEALTH = {  # the head notices a node gone within about two seconds (the default is tens of seconds)
    "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_timeout_ms": "500", "RAY_health_check_initial_delay_ms": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    address: str  # ray://127.0.0.1:PORT
    gcs: str
    workdir: Path  # where the workers clone runs (PMDESK_CLUSTER_WORKDIR)
    log: Path  # the fake claude's start/end log (FAKE_CLAUDE_LOG on the workers)
    env: dict[str, str]
    temp: Path
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_node(self, name: str, head: bool) -> None:
        argv = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
        if head:
            port = self.gcs.rsplit(":", 1)[1]
            argv += ["--head", f"--port={port}", f"--ray-client-server-port={self.address.rsplit(':', 1)[1]}",
                     "--include-dashboard=false", f"--temp-dir={self.temp}"]
        else:
            argv += [f"--address={self.gcs}", '--resources={"second": 1}']
        with open(self.temp.parent / f"{self.temp.name}-{name}.log", "ab") as out:
            self.nodes[name] = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_nodes(len(self.nodes))

    def wait_nodes(self, count: int, timeout: float = 60) -> None:
        """Until ``ray status`` lists ``count`` nodes alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run([RAY, "status", f"--address={self.gcs}"], capture_output=True, text=True,
                                  env=self.env, timeout=30)
            active = done.stdout.split("Pending:")[0]
            if done.returncode == 0 and active.count(" node_") >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"the test cluster did not show {count} nodes in {timeout} s")

    def runs_on(self, name: str) -> set[str]:
        """The run ids whose agents work under this node: an agent's parents lead to the node's session."""
        sid = os.getsid(self.nodes[name].pid)
        found = set()
        for pid, _cmd in processes_under(self.workdir):
            try:
                cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            except OSError:
                continue
            if any(_sid(p) == sid for p in _ancestors(pid)):
                found.add(cwd.relative_to(self.workdir / "pmdesk-runs").parts[0])
        return found

    def session_pids(self, name: str) -> list[int]:
        """Every process of a node: its starter's session (Ray's workers keep the session)."""
        sid = os.getsid(self.nodes[name].pid) if self.nodes[name].poll() is None else self.nodes[name].pid
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getsid(int(entry)) == sid:
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def kill_node(self, name: str) -> None:
        """The node's every process, at once (a machine that died)."""
        for pid in self.session_pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        self.nodes[name].wait(10)

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):
            process = self.nodes[name]
            if process.poll() is None:
                process.terminate()  # --block drains and stops its node
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    pass
            for pid in self.session_pids(name):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _ancestors(pid: int) -> list[int]:
    chain: list[int] = []
    while pid > 1 and len(chain) < 50:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def processes_under(root: Path) -> list[tuple[int, str]]:
    """Processes working in a folder below ``root`` (an agent left behind on a worker)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(root)):
            found.append((int(entry), cmd))
    return found


