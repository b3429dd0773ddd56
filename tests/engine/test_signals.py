"""Ctrl-C, TERM and HUP to the CLI, `serve` and the window: live runs end CANCELLED, their agents
(whole process trees) gone, and the process exits by itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.engine.helpers import alive, fake_log, start_hanging_cli_run


def wait_for(predicate: object, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def hanging_agent_pid(log: Path) -> int:
    wait_for(lambda: any(e["kind"] == "hang" for e in fake_log(log)))
    return int(next(e for e in fake_log(log) if e["kind"] == "hang")["pid"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_cli_ends_a_detaching_agent_tree_on_every_stop_signal(tmp_path: Path, sig: signal.Signals) -> None:
    from tests.engine.test_process_tree import AGENT, daemon_pid

    (tmp_path / "p").mkdir()
    run_cli("project", "add", str(tmp_path / "p"), "--name", "p")
    (tmp_path / "agent.py").write_text(AGENT)
    marker = tmp_path / "daemon.pid"
    proc = subprocess.Popen([sys.executable, "-m", "pmdesk", "run", "p", "go", "--executor", "command", "--command",
                             f"{sys.executable} {tmp_path / 'agent.py'} {marker} hang"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    daemon = daemon_pid(marker)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 1
    wait_for(lambda: not alive(daemon), 10)  # the setsid daemon went with the tree
    assert json.loads(run_cli("runs", "p", "--json").stdout)[0]["status"] == "CANCELLED"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_cli_cancels_its_run_on_every_stop_signal(tmp_path: Path, fake_claude: Path, sig: signal.Signals) -> None:
    proc, agent = start_hanging_cli_run(tmp_path, fake_claude)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 1
    assert not alive(agent)
    assert json.loads(run_cli("runs", "p", "--json").stdout)[0]["status"] == "CANCELLED"


def _serve_and_start_a_run(port: int, argv: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    (tmp_path / "p").mkdir(exist_ok=True)
    run_cli("project", "add", str(tmp_path / "p"), "--name", "p")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    token_file = Path(os.environ["XDG_CONFIG_HOME"]) / "pmdesk" / "api-token"
    project_id = json.loads(run_cli("project", "show", "p", "--json").stdout)["projectId"]

    def started() -> bool:
        if not token_file.exists():
            return False
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/projects/{project_id}/runs", method="POST",
            data=json.dumps({"prompt": "wait [hang]", "executor": "claude_code"}).encode(),
            headers={"Authorization": f"Bearer {token_file.read_text().strip()}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return bool(answer.status == 201)
        except OSError:
            return False

    wait_for(started, 60)
    return proc, project_id


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_serve_cancels_its_runs_and_exits(tmp_path: Path, fake_claude: Path, sig: signal.Signals) -> None:
    port = free_port()
    proc, _ = _serve_and_start_a_run(port, [sys.executable, "-m", "pmdesk", "serve", "--port", str(port)], tmp_path)
    agent = hanging_agent_pid(fake_claude)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    assert not alive(agent)
    assert json.loads(run_cli("runs", "p", "--json").stdout)[0]["status"] == "CANCELLED"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_window_closes_cleanly_on_a_stop_signal(tmp_path: Path, fake_claude: Path, sig: signal.Signals) -> None:
    port = free_port()
    settings = Path(os.environ["XDG_CONFIG_HOME"]) / "pmdesk" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"apiServerEnabled": True, "apiPort": port}))
    proc, _ = _serve_and_start_a_run(port, [sys.executable, "-m", "pmdesk"], tmp_path)
    agent = hanging_agent_pid(fake_claude)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    assert not alive(agent)
    assert json.loads(run_cli("runs", "p", "--json").stdout)[0]["status"] == "CANCELLED"
