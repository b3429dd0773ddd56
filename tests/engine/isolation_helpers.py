"""Real git repositories for the isolation tests, the CLI that drives them, and what to compare."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import FAKES, run_cli

AGENT = f"{sys.executable} {FAKES / 'fake_agent.py'} {{prompt}}"
GATE_SCRIPT = """import os, pathlib, sys
mark = os.environ.get("GATE_MARK")
if mark:
    with open(mark, "a") as handle:
        handle.write(os.getcwd() + "\\n")
missing = [p for p in sys.argv[1:] if not pathlib.Path(p).exists()]
print("[FAIL] missing " + ", ".join(missing) if missing else "[PASS] every file is there")
sys.exit(1 if missing else 0)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A repository on ``main`` with one commit: a README, an unrelated file and the gate script."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "The User")
    git(path, "config", "user.email", "user@example.invalid")
    for name, text in {"README.md": "# sample\n", "unrelated.txt": "mine\n", "gate.py": GATE_SCRIPT,
                       **(files or {})}.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def cli(*args: str, code: int | None = 0, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, env=env, timeout=timeout)
    if code is not None:
        assert done.returncode == code, f"pmdesk {' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def cli_json(*args: str, **kw: Any) -> Any:
    return json.loads(cli(*args, "--json", **kw).stdout)


def add_project(repo: Path, name: str, gate_files: list[str] | None = None) -> None:
    cli("project", "add", str(repo), "--name", name)
    gate = f"{sys.executable} gate.py {' '.join(gate_files or [])}".strip()
    cli("project", "set", name, "--executor", "command", "--command", AGENT, "--gate", gate)


def new_plan(tmp: Path, project: str, tasks: list[dict[str, Any]], summary: str = "isolated work") -> dict[str, Any]:
    spec = tmp / f"tasks-{len(list(tmp.glob('tasks-*.json')))}.json"
    spec.write_text(json.dumps({"tasks": tasks, "summary": summary}))
    plan: dict[str, Any] = cli_json("plan", project, "--from-file", str(spec))
    return plan


def snapshot(repo: Path) -> dict[str, Any]:
    """The user's checkout as git and the files see it: HEAD, index, status, every file's hash."""
    files = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo)
        if path.is_file() and rel.parts[0] != ".git" and rel.parts[:2] != (".claude", "state"):
            files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"head": git(repo, "rev-parse", "HEAD"), "branch": git(repo, "symbolic-ref", "HEAD"),
            "index": git(repo, "ls-files", "-s"), "status": git(repo, "status", "--porcelain"), "files": files}


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")
