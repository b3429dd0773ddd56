"""The embedded agent's tools against what an attacker (or a confused model) would try.

Each attempt is real: real files, a real sandbox (bubblewrap), a real listening socket. The
tools must refuse or contain every one, answer with a tool error the model can read, and
never block or end the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from pathlib import Path

import pytest

from pmdesk import config
from pmdesk.executors.agent_tools import AgentTools, ToolError
from pmdesk.executors.sandbox import SandboxPolicy

SECRET = "sk-ant-sandbox-secret-0123456789"


@pytest.fixture
def project(tmp_path: Path, private_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".claude" / "state" / "runs").mkdir(parents=True)
    (root / ".claude" / "state" / "runs" / "run_x.json").write_text("{}")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hi')\n")
    (private_home / "notes.txt").write_text(SECRET)
    (config.config_dir() / "secrets.json").write_text(json.dumps({"anthropicApiKey": SECRET}))
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    return root


async def run(tools: AgentTools, command: str) -> str:
    return await asyncio.wait_for(tools.call("run_command", {"command": command}), 30)


async def test_run_command_escapes_are_contained(project: Path, tmp_path: Path, private_home: Path) -> None:
    tools = AgentTools(project)
    outside = tmp_path / "outside.txt"
    etc = Path("/etc") / f"pmdesk-escape-{uuid.uuid4().hex}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    attempts = {
        "write outside the project": (f"echo x > {outside}", lambda out: not outside.exists()),
        "write into /etc": (f"echo x > {etc}", lambda out: not etc.exists()),
        "write into the home": (f"echo x > {private_home}/escape", lambda out: not (private_home / "escape").exists()),
        "read the user's home": (f"cat {private_home}/notes.txt", lambda out: SECRET not in out),
        "read pmdesk's config": (f"cat {config.config_dir()}/secrets.json", lambda out: SECRET not in out),
        "print the environment": ("env", lambda out: SECRET not in out and "ANTHROPIC_API_KEY" not in out),
        "write a git hook": ("echo evil > .git/hooks/pre-commit", lambda out: not (project / ".git/hooks/pre-commit").exists()),
        "read pmdesk's state": ("ls -R .claude/state", lambda out: "run_x.json" not in out),
        "reach the network": (f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' "
                              "&& echo CONNECTED", lambda out: "CONNECTED" not in out),
    }
    escaped = []
    for name, (command, contained) in attempts.items():
        if not contained(await run(tools, command)):
            escaped.append(name)
    listener.close()
    assert escaped == []
    ok = await run(tools, "echo made > src/made.txt && cat src/app.py")
    assert "exit code 0" in ok and (project / "src" / "made.txt").read_text() == "made\n"  # the worktree is writable


async def test_the_network_when_the_project_allows_it(project: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    out = await run(AgentTools(project, policy=SandboxPolicy(network=True)),
                    f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' && echo CONNECTED")
    listener.close()
    assert "CONNECTED" in out


async def test_without_bubblewrap_commands_are_refused_unless_allowed(project: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pmdesk.executors import process_tree

    monkeypatch.setattr(process_tree, "_works", [False])
    with pytest.raises(ToolError, match="bubblewrap"):
        await run(AgentTools(project), "echo hi")
    allowed = await run(AgentTools(project, policy=SandboxPolicy(allow_unsandboxed=True)), "env")
    assert "exit code 0" in allowed and SECRET not in allowed  # still no secrets in its environment


async def test_file_tool_escapes_are_refused_without_blocking(project: Path, tmp_path: Path) -> None:
    tools = AgentTools(project)
    os.mkfifo(project / "pipe")
    (project / "big.bin").touch()
    os.truncate(project / "big.bin", 2 * 1024 ** 3)  # 2 GB (sparse)
    (project / "binary.dat").write_bytes(b"\x00\xff\xfe" * 100)
    (project / "link").symlink_to(tmp_path)
    refused = [
        ("write_file", {"path": ".git/hooks/pre-commit", "content": "evil"}),
        ("read_file", {"path": ".git/config"}),
        ("write_file", {"path": ".claude/state/runs/run_y.json", "content": "{}"}),
        ("read_file", {"path": ".claude/state/runs/run_x.json"}),
        ("list_dir", {"path": ".claude/state"}),
        ("write_file", {"path": "pipe", "content": "x"}),
        ("read_file", {"path": "pipe"}),
        ("edit_file", {"path": "pipe", "old": "a", "new": "b"}),
        ("edit_file", {"path": "binary.dat", "old": "a", "new": "b"}),
        ("edit_file", {"path": "big.bin", "old": "a", "new": "b"}),
        ("write_file", {"path": "link/escape.txt", "content": "x"}),
        ("read_file", {"path": "../outside"}),
        ("write_file", {"path": "/etc/passwd", "content": "x"}),
        ("read_file", {"path": "src\x00/app.py"}),
        ("write_file", {"path": "sub/.git/config", "content": "x"}),
    ]
    for name, args in refused:
        with pytest.raises(ToolError):
            await asyncio.wait_for(tools.call(name, args), 5)  # never blocks on the FIFO
    big = await tools.call("read_file", {"path": "big.bin"})
    assert big.endswith("[truncated]") and len(big) < 300_000  # bounded, not 2 GB in memory
    odd = await tools.call("write_file", {"path": "odd.txt", "content": "lone \ud800 surrogate"})
    assert "wrote" in odd and (project / "odd.txt").read_bytes() == b"lone ? surrogate"
    assert not (project / ".git" / "hooks" / "pre-commit").exists() and not (tmp_path / "escape.txt").exists()
