"""The Claude Code CLI, stream-json in and out, one long-lived process per run, on its control
protocol: a tool that needs approval, a question (AskUserQuestion) and a plan (ExitPlanMode) each
stop the turn until the user decides, and the answer goes back into the same turn.

A run keeps Claude's session id, so an answer given after the process (or the app) has
gone resumes the same conversation with ``--resume``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from pmdesk.executors.base import ExecutorError, Outcome, RunContext, Verdict
from pmdesk.executors.claude_protocol import (
    control_error,
    control_request,
    permission_answer,
    too_old,
    tool_request,
    user_message,
)
from pmdesk.executors.pricing import cost_usd
from pmdesk.executors.process import Child, ChildExecution, end_process_group, spawn
from pmdesk.executors.process_tree import NOT_CONTAINED
from pmdesk.models import TaskState, ToolRequest, Usage

_EXITED = object()


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    fields = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return Usage(**{f: int(raw.get(f) or 0) for f in fields})


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sandbox_settings(allow_unsandboxed: bool, ask_for_commands: bool = True) -> dict[str, Any]:
    """Claude Code's own Bash sandbox: on, and (unless the project allows it) a hard failure where it
    cannot start, never a silent run without it; no command may ask to leave it. Under the Ask and
    Plan modes a sandboxed command still asks (the CLI would allow it unasked)."""
    return {"sandbox": {"enabled": True, "failIfUnavailable": not allow_unsandboxed,
                        "allowUnsandboxedCommands": False, "autoAllowBashIfSandboxed": not ask_for_commands}}


class ClaudeExecution(ChildExecution):
    """One CLI process. Its stdin stays open while a turn can still ask (closing it would deny a
    pending request); it is closed after a turn that ends the run."""

    def __init__(self, child: Child, ctx: RunContext) -> None:
        super().__init__(child, ctx)
        self._turns: asyncio.Queue[object] = asyncio.Queue()
        self._session_id = ctx.agent_session_id
        self._last_text: str | None = None
        self._turn_usage: dict[str, Usage] = {}  # this turn's API calls (a message id each) and their usage
        self._cost_seen = 0.0
        self._stderr_tail: list[str] = []
        self._pending: dict[str, ToolRequest] = {}
        self._interrupted = False
        self._version: str | None = None
        self._sent = 0
        self._reader = asyncio.ensure_future(self._read())

    @property
    def steerable(self) -> bool:
        return True  # a message written mid-turn reaches the running turn

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
        if kind == "control_request":
            self._on_control(message)
        elif kind == "control_cancel_request":
            withdrawn = self._pending.pop(str(message.get("request_id")), None)
            if withdrawn is not None:
                emit("system", f"the agent withdrew its request ({withdrawn.tool_name})", None)
                self._turns.put_nowait(Outcome(TaskState.RUNNING, withdrawn=withdrawn.request_id))
        elif kind == "control_response":
            response = message.get("response") or {}
            if isinstance(response, dict) and response.get("subtype") == "error":
                emit("system", f"Claude Code refused a control request: {_short(response.get('error'))}", None)
        elif kind == "system":
            self._on_system(message)
        elif kind == "assistant":
            self._note_usage(message.get("message") or {})
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
        elif kind == "user":
            content = (message.get("message") or {}).get("content") or []
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    emit("tool_result", _short(block.get("content"), 500), {"isError": bool(block.get("is_error"))})
        elif kind == "result":
            self._turn_usage.clear()
            self._turns.put_nowait(message)
        elif kind == "stream_event":
            return
        else:
            emit("stdout", _short(message, 1000), None)

    def _on_control(self, message: dict[str, Any]) -> None:
        request = tool_request(message)
        if request is None:  # hooks and MCP servers are not registered, so not expected: say no
            request_id = str(message.get("request_id") or "")
            subtype = (message.get("request") or {}).get("subtype") if isinstance(message.get("request"), dict) else None
            self._write(control_error(request_id, f"pmdesk does not handle {subtype!r} requests"))
            return
        self._pending[request.request_id] = request
        self._turns.put_nowait(Outcome(TaskState.AWAITING_RESPONSE, request=request,
                                       agent_session_id=self._session_id, agent_version=self._version))

    def _note_usage(self, message: dict[str, Any]) -> None:
        """What this turn has used so far, from each API call's usage (the CLI repeats a call's
        usage on each of its content blocks: counted once by message id), for budgets mid-turn."""
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return
        self._turn_usage[str(message.get("id") or len(self._turn_usage))] = _usage(usage)
        total = Usage()
        for each in self._turn_usage.values():
            total = total.add(each)
        model = message.get("model") if isinstance(message.get("model"), str) else self._ctx.model
        self._ctx.report_usage(total, cost_usd(model, total))

    def _on_system(self, message: dict[str, Any]) -> None:
        subtype = message.get("subtype")
        if subtype == "init":
            version = message.get("claude_code_version")
            text = f"claude session {message.get('session_id')} · model {message.get('model')}"
            if isinstance(version, str) and version != self._version:
                self._version = version
                text += f" · Claude Code {version}"
                warning = too_old(version)
                if warning:
                    self._ctx.emit("system", warning, {"subtype": "version"})
            self._ctx.emit("system", text, {"subtype": "init", "sessionId": message.get("session_id"),
                                            "model": message.get("model"), "version": version,
                                            "permissionMode": message.get("permissionMode")})
        elif subtype == "status":
            if message.get("permissionMode"):
                self._ctx.emit("system", f"permission mode: {message['permissionMode']}", {"subtype": "status"})
        else:
            self._ctx.emit("system", _short(subtype or message), None)

    def _write(self, data: bytes) -> None:
        if self._proc.stdin is None or self._proc.stdin.is_closing() or self._proc.returncode is not None:
            raise ExecutorError("the Claude Code process has ended")
        self._proc.stdin.write(data)

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
                        "costUsd": total, "numTurns": result.get("num_turns"),
                        "terminalReason": result.get("terminal_reason")})

        def outcome(status: TaskState, summary: str | None = None, error: str | None = None,
                    question: str | None = None) -> Outcome:
            return Outcome(status, summary=summary, error=error, question=question, usage=usage,
                           cost_usd=cost, agent_session_id=self._session_id, agent_version=self._version)

        self._pending.clear()  # a turn's end settles whatever it asked
        if self._interrupted and str(result.get("terminal_reason", "")).startswith("aborted"):
            self._interrupted = False
            return outcome(TaskState.AWAITING_RESPONSE, summary=self._last_text,
                           question="You interrupted the agent. Tell it what to do next.")
        self._interrupted = False
        if result.get("is_error") or str(result.get("subtype", "success")).startswith("error"):
            return outcome(TaskState.ERROR, error=f"Claude Code reported an error: {text or result.get('subtype')}")
        return outcome(TaskState.COMPLETE, summary=text)

    async def next_outcome(self) -> Outcome:
        item = await self._turns.get()
        if item is _EXITED:
            code = self._proc.returncode
            if self._cancelled:
                return Outcome(TaskState.CANCELLED, exit_code=code, error="cancelled by the user",
                               agent_session_id=self._session_id, agent_version=self._version)
            tail = "\n".join(self._stderr_tail[-5:])
            return Outcome(TaskState.ERROR, exit_code=code, agent_session_id=self._session_id,
                           agent_version=self._version,
                           error=f"Claude Code exited with code {code} before finishing" + (f":\n{tail}" if tail else ""))
        if isinstance(item, Outcome):
            return item
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
        self._write(user_message(text))
        await self._drain()

    async def decide(self, request_id: str, verdict: Verdict) -> None:
        request = self._pending.pop(request_id, None)
        if request is None:
            raise ExecutorError("the agent no longer waits for that request (it withdrew it, or its turn ended)")
        self._write(permission_answer(request, verdict))
        await self._drain()

    async def interrupt(self) -> None:
        self._sent += 1
        self._interrupted = True
        self._write(control_request(f"req_{self._sent}_pmdesk", "interrupt"))
        await self._drain()

    async def _drain(self) -> None:
        assert self._proc.stdin is not None
        try:
            await self._proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ExecutorError(f"the Claude Code process has ended ({exc})") from None

    async def cancel(self) -> None:
        self._cancelled = True
        await end_process_group(self._proc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 5)


class ClaudeCodeExecutor:
    name = "claude_code"

    def __init__(self, binary: str, extra_args: list[str] | None = None) -> None:
        self.binary = binary
        self.extra_args = extra_args or []

    def argv(self, ctx: RunContext, resume: str | None) -> list[str]:
        argv = [self.binary, "-p", "--verbose", "--output-format", "stream-json", "--input-format", "stream-json",
                "--permission-prompt-tool", "stdio", "--permission-mode", str(ctx.options.get("claude_mode") or "default")]
        if ctx.options.get("allow_rules"):
            argv += ["--allowedTools", *ctx.options["allow_rules"]]
        if ctx.options.get("deny_rules"):
            argv += ["--disallowedTools", *ctx.options["deny_rules"]]
        if ctx.model:
            argv += ["--model", ctx.model]
        if resume:
            argv += ["--resume", resume]
        if ctx.options.get("claude_sandbox"):
            asks = ctx.options.get("claude_mode", "default") in ("default", "plan")
            argv += ["--settings", json.dumps(sandbox_settings(bool(ctx.options.get("allow_unsandboxed_commands")),
                                                               asks))]
        return argv + self.extra_args

    async def _launch(self, ctx: RunContext, first_message: str, resume: str | None) -> ClaudeExecution:
        argv = self.argv(ctx, resume)
        env = ctx.env
        if ctx.options.get("claude_mode") == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root the CLI refuses bypass unless told it is sandboxed: a bypass run is (its own worktree,
            # in its own PID namespace), which is the only place pmdesk offers it.
            env = {**(env if env is not None else os.environ), "IS_SANDBOX": "1"}
        try:
            child = await spawn(argv, str(ctx.workdir), env=env, stdin=True)
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
        if not session_saved(ctx.agent_session_id, ctx.env):
            # The CLI died before it wrote its session (killed at once with pmdesk): the same run
            # starts a new session that carries the task and what the user said since.
            ctx.emit("system", f"Claude's session {ctx.agent_session_id} was not saved; continuing in a new one", None)
            return await self._launch(ctx, f"{ctx.prompt}\n\n(Your earlier session on this task was lost.) "
                                            f"{answer}", None)
        return await self._launch(ctx, answer, ctx.agent_session_id)


def session_saved(session_id: str, env: dict[str, str] | None) -> bool:
    """Whether Claude Code keeps a transcript of the session (``<config>/projects/*/<id>.jsonl``).
    Where the folder cannot be found, it is assumed saved: ``--resume`` then says for itself."""
    where = (env or os.environ).get("CLAUDE_CONFIG_DIR") or os.path.join(
        (env or os.environ).get("HOME") or os.path.expanduser("~"), ".claude")
    projects = Path(where) / "projects"
    if not projects.is_dir():
        return True
    return any(projects.glob(f"*/{session_id}.jsonl"))
