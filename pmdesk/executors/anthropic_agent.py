"""An embedded agent on the anthropic SDK: a tool-use loop confined to the workdir.

The conversation is persisted after every turn (in ``conversations/<runId>.json``), so an
answer to ``ask_user`` continues the same run even after the app restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import anthropic

from pmdesk.config import DEFAULT_MODEL
from pmdesk.executors.agent_tools import TOOLS, AgentTools, ToolError
from pmdesk.executors.anthropic_client import describe_api_error, make_client
from pmdesk.executors.base import ExecutorError, Outcome, RunContext, Verdict
from pmdesk.executors.pricing import cost_usd
from pmdesk.executors.sandbox import SandboxPolicy
from pmdesk.models import RequestKind, TaskState, ToolRequest, Usage, validate_id
from pmdesk.store.atomic import atomic_write_bytes
from pmdesk.store.safe_files import DamagedFileError, read_json
from pmdesk.store.scrub import scrub

SYSTEM = (
    "You are a coding agent working in a local project directory. Use the tools to inspect "
    "and change files and to run commands; all paths are relative to the project root. "
    "When you need a decision from the user, call ask_user. Tools that change files or run "
    "commands may first ask the user for permission; a denial comes back as the tool's error. "
    "When the task is done, answer "
    "with a short summary of what you changed."
)


CONVERSATION_LIMIT = 64 * 1024 * 1024


def conversation_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / "conversations" / f"{validate_id(run_id, 'run')}.json"


NEEDS_APPROVAL = frozenset({"write_file", "edit_file", "run_command"})  # read-only tools never ask
INTERRUPTED = "The user interrupted this tool use. Wait for the user's next message."
PLAN_TOOL: dict[str, Any] = {
    "name": "propose_plan",
    "description": "Plan mode: present your plan (markdown) for the user's approval before changing anything.",
    "input_schema": {"type": "object", "properties": {"plan": {"type": "string"}}, "required": ["plan"]},
}


class AgentExecution:
    """The tool-use loop of one run. A tool that changes something asks first (``Outcome`` with a
    ``ToolRequest``) and waits, in the same turn, for ``decide``."""

    def __init__(self, ctx: RunContext, client: anthropic.AsyncAnthropic, state: dict[str, Any]) -> None:
        self._ctx = ctx
        self._client = client
        # {"messages": [...], "open": {"results": [...], "waiting": [tool_use ids]} | None, "turns": int, ...}
        self._state = state
        policy = SandboxPolicy(network=bool(ctx.options.get("command_network")),
                               allow_unsandboxed=bool(ctx.options.get("allow_unsandboxed_commands")))
        self._tools = AgentTools(ctx.workdir, int(ctx.options.get("command_timeout_s", 120)), policy)
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._usage = Usage()
        self._waiting: dict[str, asyncio.Future[Verdict]] = {}
        self._said_meanwhile: list[str] = []
        self._interrupting = False
        state.setdefault("planning", ctx.options.get("permission_mode") == "plan")

    @property
    def pid(self) -> int | None:
        return None

    @property
    def alive(self) -> bool:
        return True  # the conversation lives on disk; it can always take an answer

    @property
    def steerable(self) -> bool:
        return True  # a message sent while it works goes along with the next tool results

    def _save(self) -> None:
        # A conversation holds what tools printed (an environment, a config file): scrubbed like every record.
        text = json.dumps(self._state, ensure_ascii=False)
        atomic_write_bytes(conversation_path(self._ctx.state_dir, self._ctx.run_id),
                           scrub(text).encode("utf-8", "replace"), mode=0o600)

    def begin(self) -> None:
        self._interrupting = False
        self._task = asyncio.ensure_future(self._run_guarded())

    async def _run_guarded(self) -> None:
        try:
            outcome = await self._loop()
        except asyncio.CancelledError:
            if self._interrupting:
                self._close_open(INTERRUPTED)
                outcome = Outcome(TaskState.AWAITING_RESPONSE,
                                  question="You interrupted the agent. Tell it what to do next.")
            else:
                outcome = Outcome(TaskState.CANCELLED, error="cancelled by the user")
        except anthropic.APIError as exc:
            outcome = Outcome(TaskState.ERROR, error=describe_api_error(exc))
        except Exception as exc:  # a bug or an OS error must end the run, not hang it
            outcome = Outcome(TaskState.ERROR, error=f"the embedded agent failed: {exc!r}")
        outcome.usage = self._usage
        outcome.cost_usd = cost_usd(self._ctx.model, self._usage)
        self._usage = Usage()
        self._save()
        self._outcomes.put_nowait(outcome)

    async def _loop(self) -> Outcome:
        ctx = self._ctx
        messages: list[dict[str, Any]] = self._state["messages"]
        max_turns = int(ctx.options.get("max_turns", 40))
        max_tokens = int(ctx.options.get("max_tokens_per_run", 400_000))
        while True:
            if self._state["turns"] >= max_turns:
                return Outcome(TaskState.ERROR, error=f"stopped after {max_turns} turns (the turn limit)")
            if int(self._state.get("tokens", 0)) >= max_tokens:
                return Outcome(TaskState.ERROR, error=f"stopped after {max_tokens} tokens (the token limit)")
            tools = [*TOOLS, PLAN_TOOL] if self._state.get("planning") else TOOLS
            response = await self._client.messages.create(
                model=ctx.model or DEFAULT_MODEL, max_tokens=8192, system=SYSTEM,
                tools=tools, messages=messages,  # type: ignore[arg-type]
            )
            self._state["turns"] += 1
            usage = _usage_of(response)
            self._usage = self._usage.add(usage)
            self._ctx.report_usage(self._usage, cost_usd(self._ctx.model, self._usage))  # budgets see it mid-turn
            self._state["tokens"] = int(self._state.get("tokens", 0)) + usage.total
            content = [_block_dict(b) for b in response.content]
            messages.append({"role": "assistant", "content": content})
            last_text = ""
            for block in content:
                if block["type"] == "text" and block.get("text"):
                    last_text = block["text"]
                    ctx.emit("assistant", last_text, None)
                elif block["type"] == "tool_use":
                    ctx.emit("tool_use", f"{block['name']} {json.dumps(block.get('input'))[:300]}",
                             {"name": block["name"], "id": block["id"]})
            uses = [b for b in content if b["type"] == "tool_use"]
            if not uses:
                self._save()
                return Outcome(TaskState.COMPLETE, summary=last_text or None)
            opened: dict[str, Any] = {"results": [], "waiting": [u["id"] for u in uses]}
            self._state["open"] = opened
            question: str | None = None
            for use in uses:
                if use["name"] == "ask_user":
                    raw = (use.get("input") or {}).get("question")
                    question = str(raw) if raw else "The agent asks for your input."
                    continue  # its result is the user's answer (``send``)
                result = await self._use(use)
                opened["results"].append(result)
                opened["waiting"].remove(use["id"])
                self._save()
            if question is not None:
                self._save()
                return Outcome(TaskState.AWAITING_RESPONSE, question=question)
            self._close_open(None)
            self._save()

    async def _use(self, use: dict[str, Any]) -> dict[str, Any]:
        """Run one tool use, asking first where it changes something."""
        name = use["name"]
        data = use.get("input") or {}
        if name == "propose_plan":
            verdict = await self._ask(ToolRequest(request_id=f"perm_{use['id']}", kind=RequestKind.PLAN_APPROVAL,
                                                  tool_name="ExitPlanMode", tool_use_id=use["id"],
                                                  input={"plan": str(data.get("plan") or "")}))
            if not verdict.allow:
                return _result(use, f"The user wants you to keep planning: {verdict.message or 'revise the plan'}", True)
            self._state["planning"] = False
            return _result(use, "The user approved your plan. Carry it out now.", False)
        if name in NEEDS_APPROVAL:
            if self._state.get("planning"):
                return _result(use, "Plan mode: nothing may change yet. Present your plan with propose_plan first.",
                               True)
            verdict = await self._ask(ToolRequest(request_id=f"perm_{use['id']}", tool_name=name,
                                                  tool_use_id=use["id"], input=dict(data)))
            if not verdict.allow:
                return _result(use, verdict.message or "The user denied this tool use.", True)
            if verdict.updated_input:
                use = {**use, "input": verdict.updated_input}
        return await self._call_tool(use)

    async def _ask(self, request: ToolRequest) -> Verdict:
        decided: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = decided
        self._save()  # a restart while it waits finds the open tool use (``send`` closes it with words)
        self._outcomes.put_nowait(Outcome(TaskState.AWAITING_RESPONSE, request=request))
        try:
            return await decided
        finally:
            self._waiting.pop(request.request_id, None)

    async def decide(self, request_id: str, verdict: Verdict) -> None:
        decided = self._waiting.get(request_id)
        if decided is None or decided.done():
            raise ExecutorError("the agent no longer waits for that request")
        decided.set_result(verdict)

    async def _call_tool(self, use: dict[str, Any]) -> dict[str, Any]:
        try:
            text = await self._tools.call(use["name"], use.get("input") or {})
            is_error = False
        except ToolError as exc:
            text, is_error = str(exc), True
        except OSError as exc:
            text, is_error = f"{exc.strerror or exc}", True
        self._ctx.emit("tool_result", text[:500], {"isError": is_error, "name": use["name"]})
        return _result(use, text, is_error)

    def _close_open(self, answer: str | None) -> None:
        """The user message after a tool-use turn: the results, ``answer`` for each use still
        waiting (an ask_user's answer, a decision told in words), and what the user said meanwhile."""
        opened = self._state.pop("open", None)
        said = [{"type": "text", "text": f"The user sent a message while you were working: {text}"}
                for text in self._said_meanwhile]
        self._said_meanwhile = []
        if not opened:
            if answer is not None:
                said.append({"type": "text", "text": answer})
            if said:
                self._append_user(said)
            return
        results = list(opened.get("results") or [])
        results += [{"type": "tool_result", "tool_use_id": waiting, "content": answer or INTERRUPTED}
                    for waiting in opened.get("waiting") or []]
        self._append_user(results + said)

    def _append_user(self, blocks: list[dict[str, Any]]) -> None:
        messages = self._state["messages"]
        last = messages[-1] if messages else None
        if last is not None and last.get("role") == "user":  # one user turn, never two in a row
            content = last["content"]
            last["content"] = ([{"type": "text", "text": content}] if isinstance(content, str) else content) + blocks
        else:
            messages.append({"role": "user", "content": blocks})

    async def next_outcome(self) -> Outcome:
        return await self._outcomes.get()

    async def send(self, text: str) -> None:
        if self._task is not None and not self._task.done():
            self._said_meanwhile.append(text)  # goes with the next tool results, in this turn
            return
        self._close_open(text)
        self._save()
        self.begin()

    async def interrupt(self) -> None:
        if self._task is None or self._task.done():
            return
        self._interrupting = True
        for request_id in list(self._waiting):  # the window's card for it goes away
            self._outcomes.put_nowait(Outcome(TaskState.RUNNING, withdrawn=request_id))
        await self._tools.cancel()
        self._task.cancel()

    async def cancel(self) -> None:
        await self._tools.cancel()
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _result(use: dict[str, Any], text: str, is_error: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use["id"], "content": text}
    if is_error:
        result["is_error"] = True
    return result


def _well_formed(value: Any) -> Any:
    """Every string valid UTF-8: a lone surrogate in a model's answer (JSON allows "\\ud800") would
    make the next request unsendable; it becomes "?" here, where the answer enters the conversation."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _well_formed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_well_formed(v) for v in value]
    return value


def _block_dict(block: Any) -> dict[str, Any]:
    raw = block.model_dump(mode="json", exclude_none=True) if hasattr(block, "model_dump") else dict(block)
    data: dict[str, Any] = _well_formed(raw)
    if data.get("type") == "text":
        return {"type": "text", "text": data.get("text", "")}
    if data.get("type") == "tool_use":
        return {"type": "tool_use", "id": data["id"], "name": data["name"], "input": data.get("input") or {}}
    return data


def _usage_of(response: Any) -> Usage:
    raw = getattr(response, "usage", None)
    if raw is None:
        return Usage()
    return Usage(
        input_tokens=getattr(raw, "input_tokens", 0) or 0,
        output_tokens=getattr(raw, "output_tokens", 0) or 0,
        cache_creation_input_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
        cache_read_input_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
    )


class AnthropicAgentExecutor:
    name = "anthropic_agent"

    def _client(self) -> anthropic.AsyncAnthropic:
        try:
            return make_client()
        except Exception as exc:
            raise ExecutorError(describe_api_error(exc)) from None

    async def start(self, ctx: RunContext) -> AgentExecution:
        state = {"messages": [{"role": "user", "content": ctx.prompt}], "turns": 0, "tokens": 0}
        execution = AgentExecution(ctx, self._client(), state)
        ctx.emit("system", f"embedded agent · model {ctx.model}", {"model": ctx.model})
        execution.begin()
        return execution

    async def resume(self, ctx: RunContext, answer: str) -> AgentExecution:
        path = conversation_path(ctx.state_dir, ctx.run_id)
        try:
            state = read_json(path, CONVERSATION_LIMIT)
        except FileNotFoundError:
            raise ExecutorError("the conversation of this run was not found; it cannot be continued") from None
        except DamagedFileError as exc:
            raise ExecutorError(f"the conversation of this run cannot be read ({exc.reason}); it is left as it "
                                "is, and the run cannot be continued") from None
        if not isinstance(state, dict) or not isinstance(state.get("messages"), list):
            raise ExecutorError("the conversation of this run is not one pmdesk wrote; it cannot be continued")
        if not isinstance(state.get("turns"), int):
            state["turns"] = 0
        execution = AgentExecution(ctx, self._client(), state)
        await execution.send(answer)
        return execution
