"""The spec's enumerations, plus the few pmdesk adds (executor kinds, project status)."""

from __future__ import annotations

from enum import StrEnum


class PlanStatus(StrEnum):
    DRAFT = "DRAFT"
    DISPATCHING = "DISPATCHING"
    RUNNING = "RUNNING"
    VERIFYING = "VERIFYING"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskState(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    AWAITING_RESPONSE = "AWAITING_RESPONSE"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATES

    @property
    def is_live(self) -> bool:
        return self in (TaskState.QUEUED, TaskState.RUNNING, TaskState.AWAITING_RESPONSE)


TERMINAL_TASK_STATES = frozenset({TaskState.COMPLETE, TaskState.ERROR, TaskState.CANCELLED})


class ActivityType(StrEnum):
    PLAN_CREATED = "plan_created"
    PLAN_DISPATCHED = "plan_dispatched"
    PLAN_COMPLETED = "plan_completed"
    PLAN_VERIFIED = "plan_verified"
    PLAN_FAILED = "plan_failed"
    PLAN_CANCELLED = "plan_cancelled"
    PLAN_VERIFY_STARTED = "plan_verify_started"
    PLAN_MERGED = "plan_merged"
    PLAN_CONFLICT = "plan_conflict"
    PLAN_ARCHIVED = "plan_archived"
    PLAN_RESTORED = "plan_restored"
    PLAN_DELETED = "plan_deleted"
    PLAN_TASK_RETRIED = "plan_task_retried"
    WORKTREES_CLEANED = "worktrees_cleaned"
    RUN_CREATED = "run_created"
    RUN_STARTED = "run_started"
    RUN_AWAITING_RESPONSE = "run_awaiting_response"
    RUN_RESPONDED = "run_responded"
    RUN_COMPLETED = "run_completed"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    RUN_INTERRUPTED = "run_interrupted"
    RUN_PERMISSION_ASKED = "run_permission_asked"
    RUN_PERMISSION_DECIDED = "run_permission_decided"
    RUN_STOPPED = "run_stopped"  # the user interrupted the agent's turn; the run waits for a message
    RUN_MESSAGED = "run_messaged"  # a message sent to an agent while it works
    PERMISSION_MODE_CHANGED = "permission_mode_changed"
    BUDGET_SET = "budget_set"
    BUDGET_REACHED = "budget_reached"  # a run was stopped, or not started, because a budget was reached
    PACKET_CREATED = "packet_created"
    PROJECT_ADDED = "project_added"


class ExecutorKind(StrEnum):
    CLAUDE_CODE = "claude_code"
    ANTHROPIC_AGENT = "anthropic_agent"
    COMMAND = "command"
    GATE = "gate"


class ProjectStatus(StrEnum):
    """Derived, most urgent first: needs_response > error > running > idle."""

    NEEDS_RESPONSE = "needs_response"
    ERROR = "error"
    RUNNING = "running"
    IDLE = "idle"
    MISSING = "missing"


class PermissionMode(StrEnum):
    """How much an agent may do without asking: the project's default, or a run's own."""

    ASK = "ask"  # every tool that changes something asks
    ACCEPT_EDITS = "accept_edits"  # file edits run; commands still ask
    PLAN = "plan"  # the agent plans first; the user approves the plan
    BYPASS = "bypass"  # nothing asks (only in an isolated worktree, confirmed once per project)


class RequestKind(StrEnum):
    """What a waiting agent asked for through its protocol."""

    PERMISSION = "permission"  # may this tool run with this input?
    QUESTION = "question"  # AskUserQuestion: choices and a free answer
    PLAN_APPROVAL = "plan_approval"  # ExitPlanMode: is this plan good to carry out?
