"""The spec's data models (camelCase JSON), with pmdesk's optional extras.

Every model keeps fields it does not know (``extra="allow"``), so a file written by
another tool survives a read-modify-write unchanged. Timestamps are ISO-8601 strings,
as in the spec.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from pmdesk.models.enums import ActivityType, ExecutorKind, PermissionMode, PlanStatus, RequestKind, TaskState
from pmdesk.models.ids import validate_id


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """Models, index summaries and containers of them as the API's camelCase JSON."""
    if hasattr(value, "to_json_dict"):
        return value.to_json_dict()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        validate_assignment=True,
        use_enum_values=False,
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def _id_validator(prefix: str, optional: bool = False) -> Any:
    def check(cls: type, value: Any) -> Any:
        if value is None and optional:
            return value
        return validate_id(value, prefix)

    return classmethod(check)


class GateCheck(Model):
    name: str
    passed: bool
    message: str
    duration: int | None = None  # ms
    skipped: bool | None = None
    checks: list[GateCheck] | None = None  # [PASS]/[FAIL]/[SKIP] lines of this gate


class GateResult(Model):
    passed: bool
    checks: list[GateCheck] = Field(default_factory=list)


class FileChange(Model):
    path: str
    added: int = 0
    removed: int = 0
    binary: bool = False


class ChangeStat(Model):
    """What a branch changed against where it started: ``git diff --numstat``, counted."""

    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    files: list[FileChange] = Field(default_factory=list)  # at most MAX_LISTED_FILES


class Worktree(Model):
    """Where an isolated task or run works: its branch, folder and commits (DESIGN §10)."""

    branch: str | None = None
    worktree_path: str | None = None
    base_commit: str | None = None  # the plan's base (for a single run: HEAD when it started)
    start_commit: str | None = None  # the worktree's first commit: base plus what it depends on
    head_commit: str | None = None  # after the run ended and its leftovers were committed
    changes: ChangeStat | None = None
    no_changes: bool | None = None  # the agent changed nothing


class PlanTask(Worktree):
    task_id: str
    description: str
    priority: int = 1
    dependencies: list[str] = Field(default_factory=list)
    run_id: str | None = None
    status: TaskState = TaskState.CREATED
    error: str | None = None
    run_ids: list[str] | None = None  # earlier runs of the task (a retry keeps them), oldest first

    _v_task = field_validator("task_id")(_id_validator("ptask"))
    _v_run = field_validator("run_id")(_id_validator("run", optional=True))


class Conflict(Model):
    """A task branch that did not merge into the integration branch."""

    task_id: str
    branch: str
    with_task_ids: list[str] = Field(default_factory=list)  # merged tasks that touched the same files
    files: list[str] = Field(default_factory=list)
    resolve_run_id: str | None = None  # an agent run resolving it in the integration worktree


class Integration(Model):
    branch: str
    worktree_path: str
    head_commit: str | None = None
    merged_task_ids: list[str] = Field(default_factory=list)
    left_out_task_ids: list[str] = Field(default_factory=list)
    conflict: Conflict | None = None
    changes: ChangeStat | None = None


class MergeRecord(Model):
    into_branch: str
    mode: str  # fast-forward | merge | squash
    commit: str
    merged_at: str = Field(default_factory=utc_now)
    forced: bool = False


class Budget(Model):
    """A cap on spending; either figure may be left out. Runs with no known price count by tokens only."""

    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)

    def is_set(self) -> bool:
        return self.usd is not None or self.tokens is not None


class Plan(Model):
    plan_id: str
    project_id: str
    org_id: str = "local"
    run_id: str | None = None
    packet_id: str | None = None
    status: PlanStatus = PlanStatus.DRAFT
    tasks: list[PlanTask] = Field(default_factory=list)
    verify_run_id: str | None = None
    gate_result: GateResult | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    executed_at: str | None = None
    completed_at: str | None = None
    verified_at: str | None = None
    summary: str | None = None
    model: str | None = None
    base_branch: str | None = None  # isolation (DESIGN §10): the project's branch and HEAD at dispatch
    base_commit: str | None = None
    in_place: bool | None = None  # dispatched without isolation, in the project folder, one task at a time
    integration: Integration | None = None
    merge: MergeRecord | None = None
    archived_at: str | None = None  # put away by the user: left out of listings unless asked for
    goal: str | None = None  # planned from this written goal (no packet)
    parent_plan_id: str | None = None  # a fix plan: the FAILED plan whose integration it starts from
    budget: Budget | None = None  # what the plan's runs may spend in all (set at dispatch)
    budget_stop: str | None = None  # why its runs are held: a budget was reached (raise it and continue)
    cluster: str | None = None  # where its runs execute: a Ray cluster (ray://HOST:PORT); None: this machine

    _v_plan = field_validator("plan_id")(_id_validator("plan"))
    _v_project = field_validator("project_id")(_id_validator("pidx"))
    _v_run = field_validator("run_id")(_id_validator("run", optional=True))
    _v_packet = field_validator("packet_id")(_id_validator("pkt", optional=True))
    _v_verify = field_validator("verify_run_id")(_id_validator("run", optional=True))
    _v_parent = field_validator("parent_plan_id")(_id_validator("plan", optional=True))

    def task(self, task_id: str) -> PlanTask:
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        raise KeyError(task_id)


class Usage(Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class Clarification(Model):
    question: str
    asked_at: str = Field(default_factory=utc_now)
    response: str | None = None
    responded_at: str | None = None


class ToolRequest(Model):
    """What a waiting agent asked for, kept on its run until the user decides (or the agent
    withdraws it): a tool to allow, a question to answer, a plan to approve."""

    request_id: str  # the agent's own id for it (Claude Code's UUID); answers name it
    kind: RequestKind = RequestKind.PERMISSION
    tool_name: str
    tool_use_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None  # the agent's one-line account of it
    suggested_rule: str | None = None  # what "allow always" would add, e.g. "Bash(npm test:*)"
    preview: str | None = None  # exactly what would happen: the command, the diff, the plan
    asked_at: str = Field(default_factory=utc_now)


class Decision(Model):
    """The user's answer to a ToolRequest, as recorded on the run."""

    request_id: str
    tool_name: str
    allow: bool
    message: str | None = None  # told to the agent (a denial's reason, feedback on a plan)
    always: str | None = None  # "run" | "project": the rule below is kept from now on
    rule: str | None = None
    answers: dict[str, str] | None = None  # a question's answers, by question text
    accept_edits: bool = False  # a plan approved "and accept edits from now on"
    by_rule: str | None = None  # decided by this kept rule, without asking
    decided_at: str = Field(default_factory=utc_now)


class Run(Worktree):
    """One agent working on one prompt in a project directory (or a worktree of it)."""

    run_id: str
    project_id: str
    session_id: str | None = None
    task_run_id: str | None = None
    prompt: str
    status: TaskState = TaskState.CREATED
    executor: ExecutorKind = ExecutorKind.COMMAND
    model: str | None = None
    plan_id: str | None = None
    plan_task_id: str | None = None
    pending_question: Clarification | None = None
    clarifications: list[Clarification] = Field(default_factory=list)
    agent_session_id: str | None = None  # e.g. Claude Code's session id, for --resume
    settings: dict[str, Any] = Field(default_factory=dict)
    pid: int | None = None
    owner_pid: int | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    started_at: str | None = None
    ended_at: str | None = None
    waited_ms: int = 0  # time spent waiting for the user (NEEDS RESPONSE): not work, for estimates
    awaiting_since: str | None = None
    exit_code: int | None = None
    summary: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None  # None means unknown, never silently 0
    event_count: int = 0
    merge_from: list[str] | None = None  # the branches its worktree starts from (a plan task's dependencies)
    pending_request: ToolRequest | None = None  # a tool, question or plan the agent waits on, mid-turn
    decisions: list[Decision] = Field(default_factory=list)
    allow_rules: list[str] = Field(default_factory=list)  # "allow always" for this run
    granted: list[ToolRequest] = Field(default_factory=list)  # allowed after its process died: allowed on re-ask
    agent_version: str | None = None  # e.g. Claude Code's version, from its init line
    node: str | None = None  # the cluster node it works on (a run placed on a cluster)

    _v_run = field_validator("run_id")(_id_validator("run"))
    _v_project = field_validator("project_id")(_id_validator("pidx"))
    _v_session = field_validator("session_id")(_id_validator("sess", optional=True))
    _v_plan = field_validator("plan_id")(_id_validator("plan", optional=True))
    _v_task = field_validator("plan_task_id")(_id_validator("ptask", optional=True))


class Session(Model):
    session_id: str
    project_id: str
    created_at: str = Field(default_factory=utc_now)
    title: str | None = None
    run_ids: list[str] = Field(default_factory=list)

    _v_session = field_validator("session_id")(_id_validator("sess"))
    _v_project = field_validator("project_id")(_id_validator("pidx"))


class Event(Model):
    """One line of a run's trail: output, a tool call, a question, a status change."""

    event_id: str
    run_id: str
    seq: int
    ts: str = Field(default_factory=utc_now)
    kind: str  # stdout | stderr | system | assistant | tool_use | tool_result | question | answer | status | gate | result
    text: str = ""
    data: dict[str, Any] | None = None


class ActivityEvent(Model):
    activity_id: str
    type: ActivityType
    project_id: str
    ts: str = Field(default_factory=utc_now)
    actor: str = "user"
    plan_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    packet_id: str | None = None
    message: str = ""
    data: dict[str, Any] | None = None


class LogLine(Model):
    ts: str
    stream: str  # stdout | stderr | system
    text: str


class InspectionPacket(Model):
    packet_id: str
    project_id: str
    run_id: str
    created_at: str = Field(default_factory=utc_now)
    task: dict[str, Any] = Field(default_factory=dict)
    project: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)
    logs: list[LogLine] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    clarifications: list[Clarification] = Field(default_factory=list)
    result: str | None = None
    error: str | None = None
    failing_checks: list[GateCheck] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)

    _v_packet = field_validator("packet_id")(_id_validator("pkt"))
    _v_project = field_validator("project_id")(_id_validator("pidx"))
    _v_run = field_validator("run_id")(_id_validator("run"))


class ProjectSettings(Model):
    default_model: str | None = None
    default_executor: ExecutorKind | None = None
    concurrency: int = Field(default=3, ge=1, le=32)
    gates: list[str] | None = None  # shell-free command lines; None = detect from package.json
    command_template: str | None = None
    command_network: bool = False  # the embedded agent's run_command may reach the network
    allow_unsandboxed_commands: bool = False  # without bubblewrap, run commands unsandboxed (by choice)
    claude_sandbox: bool = True  # claude_code runs with Claude Code's own Bash sandbox (bubblewrap + socat)
    worktree_setup: list[str] = Field(default_factory=list)  # command lines run in each new worktree
    worktree_copy: list[str] = Field(default_factory=list)  # untracked paths copied in (copy-on-write)
    permission_mode: PermissionMode = PermissionMode.ASK
    allow_rules: list[str] = Field(default_factory=list)  # e.g. "Read", "Bash(npm test:*)"
    deny_rules: list[str] = Field(default_factory=list)
    bypass_confirmed: bool = False  # the user confirmed once that bypass may be used here
    monthly_budget: Budget | None = None  # what the project's runs may spend in a calendar month (UTC)
    cluster: str | None = None  # where its plans' runs execute by default: a Ray cluster, "local", or the app's


class Project(Model):
    project_id: str
    name: str
    path: str
    added_at: str = Field(default_factory=utc_now)
    settings: ProjectSettings = Field(default_factory=ProjectSettings)

    _v_project = field_validator("project_id")(_id_validator("pidx"))


# --- API shapes of the spec ---------------------------------------------------------


class PlanRequest(Model):
    packet_id: str
    model: str | None = None


class DispatchRequest(Model):
    parallel: bool = True
    in_place: bool | None = None  # without isolation: sequentially, in the project folder
    max_parallel: int | None = Field(default=None, ge=1, le=32)
    budget: Budget | None = None  # what the plan's runs may spend in all (a dispatch over it starts nothing)
    on: str | None = None  # where the runs execute: a Ray cluster (ray://HOST:PORT) or "local"; None: the default


class DispatchedRun(Model):
    task_id: str
    run_id: str


class DispatchResponse(Model):
    plan_id: str
    status: PlanStatus
    runs: list[DispatchedRun]
    executed_at: str | None = None


class PlanCreatedResponse(Model):
    plan_id: str
    status: PlanStatus
    tasks: list[PlanTask]
    created_at: str


class VerifyResponse(Model):
    plan_id: str
    status: PlanStatus
    verify_run_id: str | None = None
    gate_result: GateResult | None = None
    verified_at: str | None = None


GateCheck.model_rebuild()
