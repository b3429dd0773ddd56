"""Shared fixtures: a private home per test, sample projects, the fakes, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_anthropic import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "fakes"
FAKE_CLAUDE = FAKES / "fake_claude.py"


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config/data dirs, no keyring, no real API key or claude."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PMDESK_NO_KEYRING", "1")
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "PMDESK_CLAUDE_BIN", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # A PATH without any real `claude`.
    monkeypatch.setenv("PATH", os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "claude").exists()))
    return home


@pytest.fixture
def fake_claude(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PMDESK_CLAUDE_BIN points at the stream-json fake; its start/end log is returned."""
    log = tmp_path / "fake_claude_log.jsonl"
    monkeypatch.setenv("PMDESK_CLAUDE_BIN", str(FAKE_CLAUDE))
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    return log


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    server = FakeAnthropic().start()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")
    yield server
    server.stop()


GATE_SCRIPT = """
const name = process.argv[2];
const mode = process.env["GATE_" + name.toUpperCase()] || "pass";
console.log(`checking ${name}`);
if (mode === "fail") {
  console.log(`[PASS] ${name} basics`);
  console.log(`[FAIL] ${name} invariant broken`);
  console.error(`Error: ${name} found 1 problem`);
  process.exit(1);
}
console.log(`[PASS] ${name} invariant holds`);
console.log(`[SKIP] ${name} optional check`);
console.log(`${name}: all checks pass`);
"""


def make_npm_project(path: Path, gates: dict[str, str] | None = None) -> Path:
    """A git repository with a package.json whose gate:* scripts are real node scripts."""
    path.mkdir(parents=True, exist_ok=True)
    gates = gates if gates is not None else {"gate:tier0": "tier0", "gate:web": "web", "gate:agent": "agent", "gate:spec": "spec"}
    (path / "gate.js").write_text(GATE_SCRIPT)
    scripts = {script: f"node gate.js {name}" for script, name in gates.items()}
    (path / "package.json").write_text(json.dumps({"name": path.name.lower(), "version": "1.0.0", "scripts": scripts}, indent=2))
    git_commit_all(path)
    return path


def git_commit_all(path: Path) -> None:
    """``path`` as a repository with one commit of everything in it: a plan's base."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "fixture"], cwd=path, check=True, env=env)


@pytest.fixture
def npm_project(tmp_path: Path) -> Path:
    return make_npm_project(tmp_path / "sample")


@pytest.fixture
def engine(private_home: Path):  # type: ignore[no-untyped-def]
    from pmdesk.engine.engine import Engine

    return Engine()


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pmdesk", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, input=input, cwd=ROOT,
    )


def echo_command(text: str = "done") -> str:
    """A command-executor template that prints its prompt and ``text``."""
    return f"{sys.executable} -c \"import sys; print('prompt:', sys.argv[1]); print('{text}')\" {{prompt}}"
