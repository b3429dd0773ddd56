"""The Claude Code CLI, stream-json in and out, one long-lived process per run.

A run keeps Claude's session id, so an answer given after the process (or the app) has
gone resumes the same conversation with ``--resume``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pmdesk.executors.base import ExecutorError, Outcome, RunContext, looks_like_question
from pmdesk.executors.process import Child, ChildExecution, end_process_group, spawn
from pmdesk.executors.process_tree import NOT_CONTAINED
from pmdesk.models import TaskState, Usage

_EXITED = object()


def user_message(text: str) -> bytes:
    message = {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": text}]}}
    return (json.dumps(message) + "\n").encode("utf-8")


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    fields = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return Usage(**{f: int(raw.get(f) or 0) for f in fields})


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sandbox_settings(allow_unsandboxed: bool) -> dict[str, Any]:
    """Claude Code's own Bash sandbox: on, and (unless the project allows it) a hard failure where it
    cannot start, never a silent run without it; no command may ask to leave it."""
    return {"sandbox": {"enabled": True, "failIfUnavailable": not allow_unsandboxed,
                        "allowUnsandboxedCommands": False}}


class ClaudeExecution(ChildExecution):
    def __init__(self, child: Child, ctx: RunContext) -> None:
        super().__init__(child, ctx)
        self._turns: asyncio.Queue[object] = asyncio.Queue()
        self._session_id = ctx.agent_session_id
        self._last_text: str | None = None
        self._asked: str | None = None
        self._cost_seen = 0.0
        self._stderr_tail: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        await self._child.pump(self._on_stdout, self._on_stderr)
        await self._proc.wait()
        self._turns.put_nowait(_EXITED)

    def _on_stderr(self, lines: list[str]) -> None:
        self._ctx.emit_lines("stderr", lines)
        self._stderr_tail = (self._stderr_tail + lines)[-10:]

    def _on_stdout(self, lines: list[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                self._ctx.emit("stdout", line, None)
                continue
            if not isinstance(message, dict):
                self._ctx.emit("stdout", line, None)
                continue
            self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        emit = self._ctx.emit
        kind = message.get("type")
        if message.get("session_id"):
            self._session_id = str(message["session_id"])
        if kind == "system":
            if message.get("subtype") == "init":
                emit("system", f"claude session {message.get('session_id')} · model {message.get('model')}",
                     {"subtype": "init", "sessionId": message.get("session_id"), "model": message.get("model")})
            else:
                emit("system", _short(message.get("subtype") or message), None)
        elif kind == "assistant":
            content = (message.get("message") or {}).get("content") or []
            for block in content if isinstance(content, list) else []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "text" and block.get("text"):
                    self._last_text = str(block["text"])
                    emit("assistant", self._last_text, None)
                elif block.get("type") == "tool_use":
                    name = str(block.get("name"))
                    emit("tool_use", f"{name} {_short(block.get('input'))}", {"name": name, "id": block.get("id")})
                    if name == "AskUserQuestion":
                        self._asked = _question_from_tool(block.get("input"))
        elif kind == "user":
            content = (message.get("message") or {}).get("content") or []
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    emit("tool_result", _short(block.get("content"), 500), {"isError": bool(block.get("is_error"))})
        elif kind == "result":
            self._turns.put_nowait(message)
        elif kind == "stream_event":
            return
        else:
            emit("stdout", _short(message, 1000), None)

    def _turn_outcome(self, result: dict[str, Any]) -> Outcome:
        total = result.get("total_cost_usd")
        cost: float | None = None
        if isinstance(total, (int, float)):
            cost = max(0.0, float(total) - self._cost_seen)
            self._cost_seen = float(total)
        usage = _usage(result.get("usage"))
        text = result.get("result") if isinstance(result.get("result"), str) else self._last_text
        self._ctx.emit("result", _short(text or result.get("subtype") or "", 2000),
                       {"subtype": result.get("subtype"), "isError": bool(result.get("is_error")),
                        "costUsd": total, "numTurns": result.get("num_turns")})
        def outcome(status: TaskState, summary: str | None = None, error: str | None = None,
                    question: str | None = None) -> Outcome:
            return Outcome(status, summary=summary, error=error, question=question, usage=usage,
                           cost_usd=cost, agent_session_id=self._session_id)

        if result.get("is_error") or str(result.get("subtype", "success")).startswith("error"):
            return outcome(TaskState.ERROR, error=f"Claude Code reported an error: {text or result.get('subtype')}")
        denials = result.get("permission_denials") or []
        question = self._asked
        if not question and denials:
            names = ", ".join(sorted({str(d.get("tool_name")) for d in denials if isinstance(d, dict)}))
            question = f"Claude asked for permission to use: {names}. Allow it, or say what to do instead?"
        if not question and looks_like_question(text):
            question = text
        self._asked = None
        if question:
            return outcome(TaskState.AWAITING_RESPONSE, question=question, summary=text)
        return outcome(TaskState.COMPLETE, summary=text)

    async def next_outcome(self) -> Outcome:
        item = await self._turns.get()
        if item is _EXITED:
            code = self._proc.returncode
            if self._cancelled:
                return Outcome(TaskState.CANCELLED, exit_code=code, error="cancelled by the user",
                               agent_session_id=self._session_id)
            tail = "\n".join(self._stderr_tail[-5:])
            return Outcome(TaskState.ERROR, exit_code=code, agent_session_id=self._session_id,
                           error=f"Claude Code exited with code {code} before finishing" + (f":\n{tail}" if tail else ""))
        assert isinstance(item, dict)
        outcome = self._turn_outcome(item)
        if outcome.status != TaskState.AWAITING_RESPONSE:
            await self._finish()
            outcome.exit_code = self._proc.returncode
            if outcome.status == TaskState.COMPLETE and self._proc.returncode not in (0, None):
                outcome.status = TaskState.ERROR
                outcome.error = f"Claude Code exited with code {self._proc.returncode}"
        return outcome

    async def _finish(self) -> None:
        """Close stdin so the CLI exits; end it if it does not."""
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), 10)
        except TimeoutError:
            await end_process_group(self._proc)

    async def send(self, text: str) -> None:
        if self._proc.stdin is None or self._proc.returncode is not None:
            raise ExecutorError("the Claude Code process has ended")
        self._proc.stdin.write(user_message(text))
        await self._proc.stdin.drain()

    async def cancel(self) -> None:
        self._cancelled = True
        await end_process_group(self._proc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 5)


def _question_from_tool(value: Any) -> str:
    if isinstance(value, dict):
        if isinstance(value.get("question"), str):
            return str(value["question"])
        questions = value.get("questions")
        if isinstance(questions, list) and questions and isinstance(questions[0], dict):
            return str(questions[0].get("question") or questions[0])
    return _short(value)


class ClaudeCodeExecutor:
    name = "claude_code"

    def __init__(self, binary: str, extra_args: list[str] | None = None) -> None:
        self.binary = binary
        self.extra_args = extra_args or []

    def argv(self, ctx: RunContext, resume: str | None) -> list[str]:
        argv = [self.binary, "-p", "--verbose", "--output-format", "stream-json", "--input-format", "stream-json"]
        if ctx.model:
            argv += ["--model", ctx.model]
        if resume:
            argv += ["--resume", resume]
        if ctx.options.get("claude_sandbox"):
            argv += ["--settings", json.dumps(sandbox_settings(bool(ctx.options.get("allow_unsandboxed_commands"))))]
        return argv + self.extra_args

    async def _launch(self, ctx: RunContext, first_message: str, resume: str | None) -> ClaudeExecution:
        argv = self.argv(ctx, resume)
        try:
            child = await spawn(argv, str(ctx.workdir), env=ctx.env, stdin=True)
        except FileNotFoundError:
            raise ExecutorError(f"Claude Code CLI not found at {self.binary}") from None
        except OSError as exc:
            raise ExecutorError(f"Claude Code CLI at {self.binary} could not be started: {exc.strerror or exc}") from None
        ctx.emit("system", "$ " + " ".join(argv), {"argv": argv, "pid": child.pid})
        if not child.contained:
            ctx.emit("system", NOT_CONTAINED, None)
        execution = ClaudeExecution(child, ctx)
        with contextlib.suppress(ExecutorError, ConnectionError):
            await execution.send(first_message)
        return execution

    async def start(self, ctx: RunContext) -> ClaudeExecution:
        return await self._launch(ctx, ctx.prompt, None)

    async def resume(self, ctx: RunContext, answer: str) -> ClaudeExecution:
        if not ctx.agent_session_id:
            raise ExecutorError("this run has no Claude session id to resume")
        return await self._launch(ctx, answer, ctx.agent_session_id)
