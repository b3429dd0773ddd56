"""The lines pmdesk writes to Claude Code and reads back on its control protocol
(``--permission-prompt-tool stdio``; see CLAUDE-PROTOCOL.md beside DESIGN.md)."""

from __future__ import annotations

import json
import re
from typing import Any

from pmdesk.executors.base import Verdict
from pmdesk.models import RequestKind, ToolRequest

OLDEST_TESTED = "2.1.197"  # the oldest CLI the test suite drives (tests/fixtures/claude-code)
KINDS = {"AskUserQuestion": RequestKind.QUESTION, "ExitPlanMode": RequestKind.PLAN_APPROVAL}
_RULE = re.compile(r"^([^()]+)(?:\((.*)\))?$", re.DOTALL)


def line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")


def user_message(text: str) -> bytes:
    return line({"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": text}]}})


def control_request(request_id: str, subtype: str, **fields: Any) -> bytes:
    return line({"type": "control_request", "request_id": request_id, "request": {"subtype": subtype, **fields}})


def control_error(request_id: str, error: str) -> bytes:
    return line({"type": "control_response", "response": {"subtype": "error", "request_id": request_id, "error": error}})


def permission_answer(request: ToolRequest, verdict: Verdict) -> bytes:
    """Allow (``updatedInput`` is required: the input as it should run) or deny with a message."""
    if verdict.allow:
        answer: dict[str, Any] = {"behavior": "allow", "updatedInput": verdict.updated_input or request.input}
        updates: list[dict[str, Any]] = []
        if verdict.keep_rule:
            updates.append({"type": "addRules", "rules": [rule_value(verdict.keep_rule)], "behavior": "allow",
                            "destination": "session"})
        if verdict.accept_edits:
            updates.append({"type": "setMode", "mode": "acceptEdits", "destination": "session"})
        if updates:
            answer["updatedPermissions"] = updates
    else:
        answer = {"behavior": "deny", "message": verdict.message or "The user denied this tool use."}
    return line({"type": "control_response",
                 "response": {"subtype": "success", "request_id": request.request_id, "response": answer}})


def rule_value(rule: str) -> dict[str, str]:
    """``Bash(npm test:*)`` as Claude Code's permission rule value."""
    match = _RULE.match(rule)
    if not match or match.group(2) is None:
        return {"toolName": rule}
    return {"toolName": match.group(1), "ruleContent": match.group(2)}


def tool_request(message: dict[str, Any]) -> ToolRequest | None:
    """A ``can_use_tool`` control request as the run's pending request (None if it is not one)."""
    body = message.get("request")
    request_id = message.get("request_id")
    if not isinstance(body, dict) or body.get("subtype") != "can_use_tool" or not isinstance(request_id, str):
        return None
    name = str(body.get("tool_name") or "tool")
    data = body.get("input")
    description = body.get("description") or body.get("title") or body.get("decision_reason")
    return ToolRequest(request_id=request_id, kind=KINDS.get(name, RequestKind.PERMISSION), tool_name=name,
                       tool_use_id=body.get("tool_use_id") if isinstance(body.get("tool_use_id"), str) else None,
                       input=data if isinstance(data, dict) else {},
                       description=str(description) if description else None)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split(" ")[0])[:3])


def too_old(version: str) -> str | None:
    """A message for a CLI older than the oldest one tested, else None."""
    seen = version_tuple(version)
    if not seen or seen >= version_tuple(OLDEST_TESTED):
        return None  # newer, or not a version at all: nothing to say
    return (f"Claude Code {version} is older than {OLDEST_TESTED}, the oldest version pmdesk is tested with: "
            "permission prompts and questions may not reach pmdesk. Update it with "
            "'npm install -g @anthropic-ai/claude-code'.")
