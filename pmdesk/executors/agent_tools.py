"""The embedded agent's tools. Every path is relative to, and confined to, the workdir."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pmdesk.errors import PmdeskError
from pmdesk.executors.process import end_process_group

MAX_READ = 256 * 1024
MAX_OUTPUT = 32 * 1024
MAX_LIST = 500


class ToolError(PmdeskError):
    """Told to the model as a tool error; the run goes on."""


TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read a UTF-8 text file of the project. Paths are relative to the project root.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "write_file",
        "description": "Create or replace a text file of the project.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": "edit_file",
        "description": "Replace the one occurrence of `old` with `new` in a file of the project.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
            "required": ["path", "old", "new"],
        },
    },
    {
        "name": "list_dir",
        "description": "List a directory of the project ('.' for the root).",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "run_command",
        "description": "Run a shell command in the project root; returns exit code and output.",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "integer", "minimum": 1}},
            "required": ["command"],
        },
    },
    {
        "name": "ask_user",
        "description": "Ask the user a question and wait for the answer. Use when you cannot proceed without it.",
        "input_schema": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]},
    },
]


def confine(workdir: Path, relative: Any) -> Path:
    """The real path of ``relative`` inside ``workdir``, or ToolError if it would escape."""
    if not isinstance(relative, str) or not relative.strip():
        raise ToolError("path must be a non-empty string")
    if "\x00" in relative:
        raise ToolError("path contains a NUL byte")
    if os.path.isabs(relative) or relative.startswith("~"):
        raise ToolError(f"{relative}: absolute paths are not allowed; use a path relative to the project")
    root = Path(os.path.realpath(workdir))
    target = Path(os.path.realpath(root / relative))
    if target != root and root not in target.parents:
        raise ToolError(f"{relative}: outside the project directory")
    return target


class AgentTools:
    def __init__(self, workdir: Path, default_timeout: int = 120) -> None:
        self.workdir = Path(os.path.realpath(workdir))
        self.default_timeout = default_timeout
        self._procs: set[asyncio.subprocess.Process] = set()

    async def call(self, name: str, args: dict[str, Any]) -> str:
        method = getattr(self, f"tool_{name}", None)
        if method is None or name == "ask_user":
            raise ToolError(f"unknown tool {name!r}")
        if not isinstance(args, dict):
            raise ToolError("tool input must be an object")
        result: str = await method(**{k: v for k, v in args.items() if k in _params(name)})
        return result

    async def tool_read_file(self, path: Any = None) -> str:
        target = confine(self.workdir, path)
        if not target.is_file():
            raise ToolError(f"{path}: no such file")
        data = target.read_bytes()[: MAX_READ + 1]
        text = data[:MAX_READ].decode("utf-8", "replace")
        return text + ("\n[truncated]" if len(data) > MAX_READ else "")

    async def tool_write_file(self, path: Any = None, content: Any = None) -> str:
        if not isinstance(content, str):
            raise ToolError("content must be a string")
        target = confine(self.workdir, path)
        if target.is_dir():
            raise ToolError(f"{path}: is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return f"wrote {len(content.encode('utf-8'))} bytes to {path}"

    async def tool_edit_file(self, path: Any = None, old: Any = None, new: Any = None) -> str:
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            raise ToolError("old must be a non-empty string and new a string")
        target = confine(self.workdir, path)
        if not target.is_file():
            raise ToolError(f"{path}: no such file")
        text = target.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            raise ToolError(f"{path}: `old` occurs {count} times; it must occur exactly once")
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
        return f"edited {path}"

    async def tool_list_dir(self, path: Any = ".") -> str:
        target = confine(self.workdir, path or ".")
        if not target.is_dir():
            raise ToolError(f"{path}: not a directory")
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
        more = f"\n… {len(names) - MAX_LIST} more" if len(names) > MAX_LIST else ""
        return "\n".join(names[:MAX_LIST]) + more

    async def tool_run_command(self, command: Any = None, timeout: Any = None) -> str:
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        limit = timeout if isinstance(timeout, int) and timeout > 0 else self.default_timeout
        limit = min(limit, self.default_timeout)
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        self._procs.add(proc)
        try:
            assert proc.stdout is not None
            output = await asyncio.wait_for(_read_capped(proc.stdout), limit)
            code = await proc.wait()
        except TimeoutError:
            await end_process_group(proc, grace=1)
            return f"timed out after {limit}s (process ended)"
        finally:
            self._procs.discard(proc)
        return f"exit code {code}\n{output}"

    async def cancel(self) -> None:
        for proc in list(self._procs):
            await end_process_group(proc, grace=1)


async def _read_capped(stream: asyncio.StreamReader) -> str:
    buf = bytearray()
    dropped = 0
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        room = MAX_OUTPUT - len(buf)
        buf += chunk[: max(room, 0)]
        dropped += max(len(chunk) - max(room, 0), 0)
    text = buf.decode("utf-8", "replace")
    return text + (f"\n[output cut: {dropped} more bytes]" if dropped else "")


def _params(name: str) -> set[str]:
    for tool in TOOLS:
        if tool["name"] == name:
            return set(tool["input_schema"]["properties"])
    return set()
