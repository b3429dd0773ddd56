"""What an agent may do without asking, what exactly it asks, and what it is told once decided.

Rules are written as Claude Code writes them, ``Tool`` or ``Tool(content)``: ``Bash(npm test:*)``
allows every command that starts with ``npm test``; ``Write(src/*)`` a glob of paths. The embedded
agent's tools carry Claude Code's names here, so one rule covers both executors.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pmdesk.errors import BadInputError
from pmdesk.models import Decision, PermissionMode, RequestKind, ToolRequest

TOOL_NAMES = {"run_command": "Bash", "write_file": "Write", "edit_file": "Edit"}  # the embedded agent's
EDIT_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
CLAUDE_MODES = {PermissionMode.ASK: "default", PermissionMode.ACCEPT_EDITS: "acceptEdits",
                PermissionMode.PLAN: "plan", PermissionMode.BYPASS: "bypassPermissions"}
SUBCOMMANDS = frozenset({"npm", "pnpm", "yarn", "bun", "git", "cargo", "go", "pip", "uv", "poetry", "docker",
                         "kubectl", "gh", "dotnet", "mvn", "gradle", "bundle", "make", "just"})
PREVIEW_LIMIT = 256 * 1024  # a Write's diff is shown against the file only up to this size
_RULE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.:-]*)(?:\((.+)\))?$", re.DOTALL)


@dataclass(frozen=True)
class Rule:
    tool: str
    content: str | None = None

    def __str__(self) -> str:
        return self.tool if self.content is None else f"{self.tool}({self.content})"


def parse_rule(text: str) -> Rule:
    match = _RULE.match(text.strip())
    if not match:
        raise BadInputError(f"'{text}' is not a permission rule; write a tool name, or a tool with a pattern "
                            "such as Bash(npm test:*) or Write(src/*)")
    return Rule(match.group(1), match.group(2))


def parse_rules(texts: list[str]) -> list[str]:
    """The rules as they will be kept (checked, trimmed, without repeats), or BadInputError."""
    kept: list[str] = []
    for text in texts:
        if text.strip() and str(parse_rule(text)) not in kept:
            kept.append(str(parse_rule(text)))
    return kept


def parse_mode(text: str) -> PermissionMode:
    try:
        return PermissionMode(text.strip().lower().replace("-", "_"))
    except ValueError:
        valid = ", ".join(m.value for m in PermissionMode)
        raise BadInputError(f"'{text}' is not a permission mode; use one of: {valid}") from None


def tool_name(name: str) -> str:
    return TOOL_NAMES.get(name, name)


def subject(request: ToolRequest) -> str:
    """What a rule's pattern is matched against: the command, the path, the address."""
    data = request.input
    for key in ("command", "file_path", "path", "notebook_path", "url", "pattern"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return ""


def matches(rule: Rule, request: ToolRequest) -> bool:
    if rule.tool != tool_name(request.tool_name):
        return False
    if rule.content is None:
        return True
    what = subject(request)
    if rule.content.endswith(":*"):
        prefix = rule.content[:-2]
        return what == prefix or what.startswith(prefix + " ")
    return fnmatchcase(what, rule.content)


def suggest_rule(request: ToolRequest) -> str:
    """What "allow always" keeps: a command's program and subcommand (``Bash(npm test:*)``), else the tool."""
    name = tool_name(request.tool_name)
    if name == "Bash":
        try:
            words = shlex.split(subject(request))
        except ValueError:
            words = subject(request).split()
        if words:
            with_subcommand = words[0] in SUBCOMMANDS and len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1])
            return f"Bash({' '.join(words[:2] if with_subcommand else words[:1])}:*)"
    return name


@dataclass(frozen=True)
class Policy:
    """The rules a run works under: the project's, plus what was allowed always for the run."""

    mode: PermissionMode
    allow: tuple[str, ...]
    deny: tuple[str, ...]

    def with_allowed(self, rule: str) -> Policy:
        return self if rule in self.allow else Policy(self.mode, (*self.allow, rule), self.deny)

    def decide(self, request: ToolRequest) -> tuple[bool, str] | None:
        """(allowed, why) when a rule or the mode settles it, None when the user must be asked.
        Questions and plans are always the user's."""
        if request.kind != RequestKind.PERMISSION:
            return None
        for text in self.deny:
            if matches(parse_rule(text), request):
                return False, text
        for text in self.allow:
            if matches(parse_rule(text), request):
                return True, text
        name = tool_name(request.tool_name)
        if self.mode == PermissionMode.BYPASS:
            return True, "bypass mode"
        if self.mode == PermissionMode.ACCEPT_EDITS and name in EDIT_TOOLS:
            return True, "accept edits mode"
        return None


def grant_for(granted: list[ToolRequest], request: ToolRequest) -> ToolRequest | None:
    """A decision made while the agent's process was gone, for the same tool and input asked again."""
    for grant in granted:
        if tool_name(grant.tool_name) == tool_name(request.tool_name) and grant.input == request.input:
            return grant
    return None


# -- what the user is shown -------------------------------------------------------------------


def headline(request: ToolRequest) -> str:
    """One sentence: what the agent waits for (the badge's tooltip, the CLI's line)."""
    if request.kind == RequestKind.QUESTION:
        questions = questions_of(request)
        return str(questions[0].get("question")) if questions else "The agent asks a question."
    if request.kind == RequestKind.PLAN_APPROVAL:
        return "The agent proposes a plan and waits for your approval."
    name = tool_name(request.tool_name)
    what = subject(request)
    verb = {"Bash": "run", "Write": "write", "Edit": "edit", "WebFetch": "fetch"}.get(name)
    if verb and what:
        return f"Allow {name} to {verb} {_one_line(what)}?"
    return f"Allow {name}" + (f": {request.description}?" if request.description else "?")


def questions_of(request: ToolRequest) -> list[dict[str, Any]]:
    raw = request.input.get("questions")
    return [q for q in raw if isinstance(q, dict)] if isinstance(raw, list) else []


def preview(request: ToolRequest, workdir: Path) -> str:
    """Exactly what would change: a diff for Write and Edit, the command, the address or the plan."""
    name = tool_name(request.tool_name)
    data = request.input
    path = subject(request)
    if request.kind == RequestKind.PLAN_APPROVAL:
        return str(data.get("plan") or "(the agent sent no plan text)")
    if request.kind == RequestKind.QUESTION:
        return "\n".join(str(q.get("question")) for q in questions_of(request))
    label = _relative(workdir, path)
    if name == "Write" and isinstance(data.get("content"), str):
        return _diff(label, _current(workdir, path), str(data["content"]))
    if name == "Edit":
        old = data.get("old_string", data.get("old"))
        new = data.get("new_string", data.get("new"))
        if isinstance(old, str) and isinstance(new, str):
            return _diff(label, old, new)
    if name == "Bash":
        return f"$ {subject(request)}"
    if path:
        return path
    return "\n".join(f"{k}: {_one_line(str(v))}" for k, v in data.items())


def _relative(workdir: Path, path: str) -> str:
    try:
        return str(Path(path).relative_to(workdir)) if Path(path).is_absolute() else path
    except ValueError:
        return path


def _current(workdir: Path, relative: str) -> str:
    target = Path(relative) if Path(relative).is_absolute() else workdir / relative
    try:
        if target.is_file() and target.stat().st_size <= PREVIEW_LIMIT:
            return target.read_text("utf-8", errors="replace")
    except OSError:
        pass
    return ""


def _diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{path}", f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines) or "(no change)"


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- what the agent is told ------------------------------------------------------------------------


def answers_input(request: ToolRequest, answers: dict[str, str] | None, free_text: str | None) -> dict[str, Any]:
    """An AskUserQuestion's input with the user's answers, as Claude Code reads it in the same turn
    (``questions`` must stay in it)."""
    data = dict(request.input)
    data["answers"] = dict(answers or {})
    if free_text:
        data["response"] = free_text
    return data


def told_after_restart(request: ToolRequest, decision: Decision) -> str:
    """The agent's process ended while it waited, and its resumed session has lost the tool call:
    say in words what the user decided, so the model can call the tool again."""
    what = headline(request) if request.kind == RequestKind.PERMISSION else request.tool_name
    if request.kind == RequestKind.QUESTION:
        given = "; ".join(f"{q} → {a}" for q, a in (decision.answers or {}).items())
        return ("Your session was restarted while you waited for the user's answer to your question. "
                f"The user answered: {given or decision.message or '(no answer)'}. Continue with that in mind.")
    if request.kind == RequestKind.PLAN_APPROVAL:
        if decision.allow:
            return "Your session was restarted while your plan waited for approval. The user approved the plan: carry it out."
        return ("Your session was restarted while your plan waited for approval. The user wants you to keep planning"
                + (f": {decision.message}" if decision.message else "."))
    if decision.allow:
        return (f"Your session was restarted while you waited for permission ({what}). The user allowed it: call the "
                f"{request.tool_name} tool again with the same input {_one_line(str(request.input), 400)}.")
    reason = f" The user said: {decision.message}" if decision.message else ""
    return (f"Your session was restarted while you waited for permission ({what}). The user denied it; do not "
            f"call that tool with that input again.{reason}")


# -- a new run's policy ----------------------------------------------------------------------------


def run_policy(project_mode: PermissionMode, allow: list[str], deny: list[str], bypass_confirmed: bool,
               asked: PermissionMode | None, isolated: bool) -> dict[str, Any]:
    """The permission settings a new run records (and its executor reads). Bypass needs a worktree
    of the run's own and the project's one-time confirmation; asked for without them it is refused,
    inherited without them it falls back to asking."""
    mode = asked or project_mode
    if mode == PermissionMode.BYPASS and not (isolated and bypass_confirmed):
        if asked == PermissionMode.BYPASS:
            if not isolated:
                raise BadInputError("bypass is offered only for runs in an isolated worktree; run it in a worktree "
                                    "(--worktree) or choose another permission mode")
            raise BadInputError("bypass has not been confirmed for this project; confirm it once in Settings or with "
                                "'pmdesk project set PROJECT --permission-mode bypass --confirm-bypass'")
        mode = PermissionMode.ASK
    return {"permission_mode": mode.value, "claude_mode": CLAUDE_MODES[mode],
            "allow_rules": list(allow), "deny_rules": list(deny)}


def policy_of(settings: dict[str, Any], run_rules: list[str]) -> Policy:
    try:
        mode = PermissionMode(str(settings.get("permission_mode") or PermissionMode.ASK.value))
    except ValueError:
        mode = PermissionMode.ASK
    allow = [str(r) for r in settings.get("allow_rules") or []] + list(run_rules)
    return Policy(mode, tuple(allow), tuple(str(r) for r in settings.get("deny_rules") or []))
