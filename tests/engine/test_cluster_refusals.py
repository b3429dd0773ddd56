"""A cluster that cannot be used is refused at once, with its reason, and nothing is written."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from pmdesk import config
from pmdesk.engine.cluster import connection
from pmdesk.engine.cluster.connection import ClusterError, parse_address
from tests.conftest import run_cli
from tests.engine.isolation_helpers import add_project, cli, cli_json, make_repo, new_plan


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_an_unreachable_cluster_is_refused_within_seconds_and_the_plan_stays_a_draft(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p")
    plan = new_plan(tmp_path, "p", [{"id": "t1", "description": "one", "priority": 1, "dependencies": []}])
    address = f"ray://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    refused = cli("dispatch", plan["planId"], "--on", address, code=None)
    assert refused.returncode != 0 and time.monotonic() - started < 15
    assert f"the Ray cluster at {address} cannot be reached" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    shown = cli_json("show", plan["planId"])
    assert shown["status"] == "DRAFT" and "cluster" not in shown
    assert json.loads(cli("runs", "p", "--json").stdout) == []  # no run was written

    bad = cli("dispatch", plan["planId"], "--on", "http://example.invalid", code=None)
    assert bad.returncode != 0 and "is not a cluster address: write ray://HOST:PORT" in bad.stderr
    status = run_cli("cluster", "status", address)
    assert status.returncode != 0 and "cannot be reached" in status.stderr and "Traceback" not in status.stderr

    # The project's default goes where --on would, and --on local overrides it.
    cli("project", "set", "p", "--cluster", address)
    assert f"runs on: {address}" in cli("project", "show", "p").stdout
    by_default = cli("dispatch", plan["planId"], code=None)
    assert by_default.returncode != 0 and address in by_default.stderr
    assert cli("project", "set", "p", "--cluster", "nonsense:port", code=None).returncode != 0
    cli("project", "set", "p", "--cluster", "")
    assert "runs on:" not in cli("project", "show", "p").stdout


def test_addresses_are_checked_and_the_cluster_token_is_a_secret_beside_the_key(
        private_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_address("ray://head.example:10001") == "ray://head.example:10001"
    assert parse_address("10.0.0.5:10001") == "ray://10.0.0.5:10001"
    for bad in ("", "ray://", "ray://host", "ray://host:99999", "ray://ho st:1", "ray://h:1/x"):
        try:
            parse_address(bad)
        except ClusterError as exc:
            assert "not a cluster address" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was taken")
    config.save_api_key("sk-ant-api03-the-key-0000000000")
    config.save_cluster_token("ray-token-0123456789")
    assert config.saved_api_key() == "sk-ant-api03-the-key-0000000000"
    assert config.saved_cluster_token() == "ray-token-0123456789"
    secrets = Path(private_home / "config" / "pmdesk" / "secrets.json")
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    config.save_api_key(None)  # one secret removed, the other kept
    assert config.saved_api_key() is None and config.saved_cluster_token() == "ray-token-0123456789"
    config.save_cluster_token(None)
    assert not secrets.exists()
    # pmdesk's own link to a cluster (Ray reads it from the environment) never reaches an agent's or a gate's.
    monkeypatch.setenv("RAY_AUTH_TOKEN", "ray-token-in-the-environment")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    from pmdesk.engine.engine import Engine

    engine = Engine()
    for env in (engine.ctx.child_env(), engine.ctx.child_env(with_key=False)):
        assert "RAY_AUTH_TOKEN" not in env and "RAY_AUTH_MODE" not in env and env.get("HOME")


class _Head:
    """Ray's client side as a busy head answers it: the proxy fails to start this client's server
    ``failing`` times, then serves (what CI met once: "Starting Ray client server failed")."""

    def __init__(self, failing: int, why: str = "Starting Ray client server failed. See its log.") -> None:
        self.failing, self.why, self.inits, self.up = failing, why, 0, False

    def is_initialized(self) -> bool:
        return self.up

    def init(self, address: str, **options: object) -> None:
        self.inits += 1
        self.up = True  # ray.init leaves the client half set up when the server refuses
        if self.inits <= self.failing:
            raise ConnectionAbortedError(f"Initialization failure from server: {self.why}")

    def shutdown(self) -> None:
        self.up = False


def test_a_head_that_fails_to_start_a_clients_server_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    head = _Head(failing=2)
    monkeypatch.setattr(connection, "ray_module", lambda: head)
    link = connection._Link()
    assert link.connect("ray://127.0.0.1:10001", None) is head and head.inits == 3
    assert link.address == "ray://127.0.0.1:10001"

    for refused in (_Head(failing=9), _Head(failing=1, why="version mismatch")):  # too often, or for good
        monkeypatch.setattr(connection, "ray_module", lambda refused=refused: refused)
        with pytest.raises(ClusterError, match="refused the connection"):
            connection._Link().connect("ray://127.0.0.1:10001", None)
        assert refused.inits == (connection.CONNECT_ATTEMPTS if refused.failing == 9 else 1)
