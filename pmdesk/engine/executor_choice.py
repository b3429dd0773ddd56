"""Which executor a run gets, and with which settings: the project's choice, then the app's, then the machine's."""

from __future__ import annotations

from typing import Any

from pmdesk import config
from pmdesk.engine.context import EngineContext
from pmdesk.engine.lazy_imports import load
from pmdesk.executors.base import Executor, ExecutorError
from pmdesk.executors.claude_code import ClaudeCodeExecutor
from pmdesk.executors.command import CommandExecutor
from pmdesk.executors.discovery import default_executor, require_claude
from pmdesk.models import ExecutorKind, Project, Run


def default_kind(ctx: EngineContext, project: Project) -> ExecutorKind:
    """The project's executor, else a command project's, else what this machine has. ``project``
    here and below: with its saved settings (``ctx.project_settings``), read once by the caller."""
    if project.settings.default_executor:
        return project.settings.default_executor
    if project.settings.command_template and not ctx.settings.default_executor:
        return ExecutorKind.COMMAND
    return default_executor(ctx.settings)


def chosen_model(ctx: EngineContext, project: Project, kind: ExecutorKind, model: str | None) -> str | None:
    """The model a run of ``kind`` uses: the one asked for, the project's, the app's (none for a command)."""
    if kind not in (ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT):
        return None
    return model or project.settings.default_model or ctx.settings.default_model


def run_settings(ctx: EngineContext, project: Project, kind: ExecutorKind, model: str | None,
                 command: str | None) -> dict[str, Any]:
    """What a new run records as its settings (and its executor reads as options)."""
    app = ctx.settings
    out: dict[str, Any] = {
        "executor": kind.value,
        "model": chosen_model(ctx, project, kind, model),
        "max_turns": app.max_turns,
        "max_tokens_per_run": app.max_tokens_per_run,
        "command_timeout_s": app.command_timeout_s,
    }
    if kind == ExecutorKind.COMMAND:
        template = command or project.settings.command_template
        if not template:
            raise ExecutorError("the command executor needs a command template (--command 'tool {prompt}')")
        out["command"] = template
    if kind == ExecutorKind.ANTHROPIC_AGENT:  # how its run_command is sandboxed (executors/sandbox.py)
        out["command_network"] = project.settings.command_network
        out["allow_unsandboxed_commands"] = project.settings.allow_unsandboxed_commands
    if kind == ExecutorKind.CLAUDE_CODE:  # Claude Code's own Bash sandbox, chosen per project
        out["claude_sandbox"] = project.settings.claude_sandbox
        out["allow_unsandboxed_commands"] = project.settings.allow_unsandboxed_commands
    if kind == ExecutorKind.CLAUDE_CODE and model is None and project.settings.default_model is None:
        out["model"] = None  # let Claude Code use its own default unless one was chosen
    return {k: v for k, v in out.items() if v is not None}


async def preload_executor(kind: ExecutorKind) -> None:
    """Import what ``executor_for`` will need off the loop (the embedded agent brings the SDK)."""
    if kind == ExecutorKind.ANTHROPIC_AGENT:
        await load("pmdesk.executors.anthropic_agent")


def executor_for(ctx: EngineContext, run: Run) -> Executor:
    cluster = run.settings.get("cluster")
    if isinstance(cluster, str) and cluster:  # placed on a cluster: the same executor, run on its worker
        from pmdesk.engine.cluster.remote import ClusterExecutor

        return ClusterExecutor(cluster, run.executor, config.saved_cluster_token())
    if run.executor == ExecutorKind.CLAUDE_CODE:
        return ClaudeCodeExecutor(require_claude(ctx.settings))
    if run.executor == ExecutorKind.ANTHROPIC_AGENT:
        # The SDK takes over a second to import: only a run that needs it pays for it.
        from pmdesk.executors.anthropic_agent import AnthropicAgentExecutor

        return AnthropicAgentExecutor()
    if run.executor == ExecutorKind.COMMAND:
        return CommandExecutor()
    raise ExecutorError(f"runs of kind {run.executor.value} are not started by an executor")
