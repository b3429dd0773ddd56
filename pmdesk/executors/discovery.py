"""Finding an agent: the claude executable, an API key, the default executor."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from pmdesk.config import AppSettings, api_key
from pmdesk.executors.base import ExecutorError
from pmdesk.models import ExecutorKind

INSTALL_HINT = (
    "install Claude Code with 'npm install -g @anthropic-ai/claude-code', "
    "or set its path in Settings or in PMDESK_CLAUDE_BIN"
)


def claude_candidates(settings: AppSettings) -> list[str]:
    out: list[str] = []
    if os.environ.get("PMDESK_CLAUDE_BIN"):
        out.append(os.environ["PMDESK_CLAUDE_BIN"])
    if settings.claude_path:
        out.append(settings.claude_path)
    on_path = shutil.which("claude")
    if on_path:
        out.append(on_path)
    out.append(str(Path.home() / ".claude" / "local" / "claude"))
    bundled = bundled_claude()
    if bundled:
        out.append(bundled)
    return out


def bundled_claude() -> str | None:
    """The CLI the Agent SDK ships (``pip install pmdesk[claude]``), found without importing it."""
    try:
        spec = importlib.util.find_spec("claude_agent_sdk")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "_bundled" / "claude"
        if candidate.is_file():
            return str(candidate)
    return None


def find_claude(settings: AppSettings) -> str | None:
    for candidate in claude_candidates(settings):
        path = shutil.which(candidate) if os.sep not in candidate else candidate
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def require_claude(settings: AppSettings) -> str:
    found = find_claude(settings)
    if found:
        return found
    tried = ", ".join(claude_candidates(settings))
    raise ExecutorError(f"Claude Code CLI not found (tried: {tried}); {INSTALL_HINT}")


def default_executor(settings: AppSettings) -> ExecutorKind:
    """The setting, else claude_code when found, else anthropic_agent with a key."""
    if settings.default_executor and settings.default_executor != ExecutorKind.GATE:
        return settings.default_executor
    if find_claude(settings):
        return ExecutorKind.CLAUDE_CODE
    if api_key():
        return ExecutorKind.ANTHROPIC_AGENT
    raise ExecutorError(
        "no agent is configured: " + INSTALL_HINT
        + ", or save an Anthropic API key in Settings (or set ANTHROPIC_API_KEY)"
    )
