"""A user-defined command (any agent CLI or script): argv from a template, no shell."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable

from pmdesk.executors.base import ExecutorError, Outcome, RunContext
from pmdesk.executors.process import Child, ChildExecution, end_process_group, spawn
from pmdesk.executors.process_tree import NOT_CONTAINED
from pmdesk.models import TaskState


def command_argv(template: str, prompt: str) -> list[str]:
    """Split the template like a shell would, then put the prompt in as one argument.

    ``{prompt}`` inside an argument is replaced there; without it the prompt is appended.
    """
    try:
        parts = shlex.split(template)
    except ValueError as exc:
        raise ExecutorError(f"the command template does not parse: {exc}") from None
    if not parts:
        raise ExecutorError("the command template is empty")
    if any("{prompt}" in p for p in parts):
        return [p.replace("{prompt}", prompt) for p in parts]
    return [*parts, prompt]


class CommandExecution(ChildExecution):
    def __init__(self, child: Child, ctx: RunContext, started: float) -> None:
        super().__init__(child, ctx)
        self._last_lines: list[str] = []
        self._started = started

    def _lines(self, stream: str) -> Callable[[list[str]], None]:
        ctx = self._ctx
        keep = self._last_lines

        def on_lines(lines: list[str]) -> None:
            ctx.emit_lines(stream, lines)
            keep.extend(lines[-20:])
            del keep[:-20]

        return on_lines

    async def next_outcome(self) -> Outcome:
        await self._child.pump(self._lines("stdout"), self._lines("stderr"))
        code = await self._proc.wait()
        if self._cancelled:
            return Outcome(TaskState.CANCELLED, exit_code=code, error="cancelled by the user")
        summary = next((line for line in reversed(self._last_lines) if line.strip()), None)
        if code == 0:
            return Outcome(TaskState.COMPLETE, summary=summary, exit_code=0)
        tail = "\n".join(self._last_lines[-5:])
        return Outcome(TaskState.ERROR, exit_code=code, error=f"exited with code {code}" + (f":\n{tail}" if tail else ""))

    async def send(self, text: str) -> None:
        raise ExecutorError("a command run cannot take an answer")

    async def cancel(self) -> None:
        self._cancelled = True
        await end_process_group(self._proc)


class CommandExecutor:
    name = "command"

    async def start(self, ctx: RunContext) -> CommandExecution:
        template = str(ctx.options.get("command") or "")
        argv = command_argv(template, ctx.prompt)
        try:
            child = await spawn(argv, str(ctx.workdir), env=ctx.env)
        except FileNotFoundError:
            raise ExecutorError(f"command not found: {argv[0]!r} (check the command template)") from None
        except PermissionError:
            raise ExecutorError(f"not executable: {argv[0]!r}") from None
        ctx.emit("system", f"$ {shlex.join(argv)}", {"argv": argv, "pid": child.pid})
        if not child.contained:
            ctx.emit("system", NOT_CONTAINED, None)
        return CommandExecution(child, ctx, asyncio.get_running_loop().time())

    async def resume(self, ctx: RunContext, answer: str) -> CommandExecution:
        raise ExecutorError("a command run cannot be continued with an answer")
