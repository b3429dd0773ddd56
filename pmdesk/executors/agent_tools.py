"""The embedded agent's tools. Every path is relative to, and confined to, the workdir.

No tool input can end the run: whatever goes wrong (a FIFO, a binary file, a 2 GB file, a path
into ``.git`` or pmdesk's state, an odd character) is a ``ToolError`` the model reads, and
``run_command`` runs in the sandbox of ``sandbox.py``.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

from pmdesk.errors import PmdeskError
from pmdesk.executors.process import end_process_group, yield_cpu
from pmdesk.executors.sandbox import SandboxPolicy, SandboxUnavailable, command_argv
from pmdesk.store.safe_files import DamagedFileError, read_bytes

MAX_READ = 256 * 1024
MAX_OUTPUT = 32 * 1024
MAX_LIST = 500
MAX_EDIT = 4 * 1024 * 1024  # a file edit_file reads whole
PROTECTED = ((".git",), (".claude", "state"))  # the repository's internals and pmdesk's records


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
    parts = target.relative_to(root).parts
    for protected in PROTECTED:
        if parts[:len(protected)] == protected or (protected == (".git",) and ".git" in parts):
            raise ToolError(f"{relative}: {'/'.join(protected)} is not for the agent's file tools")
    return target


class AgentTools:
    def __init__(self, workdir: Path, default_timeout: int = 120, policy: SandboxPolicy | None = None) -> None:
        self.workdir = Path(os.path.realpath(workdir))
        self.default_timeout = default_timeout
        self.policy = policy or SandboxPolicy()
        self._procs: set[asyncio.subprocess.Process] = set()

    async def call(self, name: str, args: dict[str, Any]) -> str:
        method = getattr(self, f"tool_{name}", None)
        if method is None or name == "ask_user":
            raise ToolError(f"unknown tool {name!r}")
        if not isinstance(args, dict):
            raise ToolError("tool input must be an object")
        try:
            result: str = await method(**{k: v for k, v in args.items() if k in _params(name)})
        except ToolError:
            raise
        except DamagedFileError as exc:
            raise ToolError(f"{args.get('path')}: {exc.reason}") from None
        except (OSError, UnicodeError, ValueError) as exc:  # told to the model; the run goes on
            raise ToolError(f"{name} failed: {exc}") from None
        return result

    def _read(self, path: Any, limit: int) -> tuple[Path, bytes]:
        target = confine(self.workdir, path)
        try:
            return target, read_bytes(target, limit)
        except FileNotFoundError:
            raise ToolError(f"{path}: no such file") from None

    async def tool_read_file(self, path: Any = None) -> str:
        target = confine(self.workdir, path)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ToolError(f"{path}: no such file") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ToolError(f"{path}: not a regular file")
            os.set_blocking(fd, True)
            data = os.read(fd, MAX_READ + 1)  # a 2 GB file costs what is shown, no more
        finally:
            os.close(fd)
        text = data[:MAX_READ].decode("utf-8", "replace")
        return text + ("\n[truncated]" if len(data) > MAX_READ else "")

    async def tool_write_file(self, path: Any = None, content: Any = None) -> str:
        if not isinstance(content, str):
            raise ToolError("content must be a string")
        target = confine(self.workdir, path)
        if target.is_dir():
            raise ToolError(f"{path}: is a directory")
        data = content.encode("utf-8", "replace")
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_regular(target, data, path)
        return f"wrote {len(data)} bytes to {path}"

    async def tool_edit_file(self, path: Any = None, old: Any = None, new: Any = None) -> str:
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            raise ToolError("old must be a non-empty string and new a string")
        target, data = self._read(path, MAX_EDIT)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{path}: not a UTF-8 text file; edit_file changes text only") from None
        count = text.count(old)
        if count != 1:
            raise ToolError(f"{path}: `old` occurs {count} times; it must occur exactly once")
        _write_regular(target, text.replace(old, new, 1).encode("utf-8", "replace"), path)
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
        try:
            argv, env = await command_argv(command, self.workdir, self.policy)
        except SandboxUnavailable as exc:
            raise ToolError(str(exc)) from None
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=self.workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        yield_cpu(proc.pid)
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


def _write_regular(target: Path, data: bytes, shown: Any) -> None:
    """Write a file the way no FIFO can block and no link is followed out of the project."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        raise ToolError(f"{shown}: cannot be written ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(f"{shown}: not a regular file")
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


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
