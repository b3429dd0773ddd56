"""Request bodies and the error envelope: pydantic at the edge, camelCase like the spec."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pmdesk.models import ExecutorKind

MAX_BODY_BYTES = 1 << 20
MAX_TEXT = 100_000


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class NewProject(Body):
    path: str = Field(min_length=1, max_length=4096, description="an existing local folder")
    name: str | None = Field(default=None, min_length=1, max_length=200)


class NewRun(Body):
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    executor: ExecutorKind | None = Field(
        default=None, description="claude_code, anthropic_agent or command (the project's command template)")
    model: str | None = Field(default=None, max_length=200)
    in_worktree: bool = Field(default=False, description="work in a new git worktree of its own")
    permission_mode: str | None = Field(default=None, max_length=40,
                                        description="ask | accept_edits | plan | bypass (the project's if absent)")


class Approve(Body):
    always: Literal["run", "project"] | None = Field(default=None, description="keep allowing this tool or pattern")
    rule: str | None = Field(default=None, max_length=2000, description="the pattern kept, e.g. Bash(npm test:*)")
    answers: dict[str, str] | None = Field(default=None, description="a question's answers: question text → label")
    text: str | None = Field(default=None, max_length=MAX_TEXT, description="a free answer to the question")
    accept_edits: bool = Field(default=False, description="approve a plan and accept edits from now on")


class Deny(Body):
    message: str | None = Field(default=None, max_length=MAX_TEXT, description="told to the agent")


class Permissions(Body):
    mode: str | None = Field(default=None, max_length=40, description="ask | accept_edits | plan | bypass")
    allow: list[str] | None = Field(default=None, max_length=500)
    deny: list[str] | None = Field(default=None, max_length=500)
    confirm_bypass: bool = Field(default=False, description="confirm once that bypass may be used here")


class SetBudget(Body):
    usd: float | None = Field(default=None, gt=0, description="USD (a plan: in all; a project: per calendar month)")
    tokens: int | None = Field(default=None, gt=0, description="tokens (likewise)")


class NewPlan(Body):
    """The spec's request, plus ``tasks`` to build a plan without the model (submit_plan format)."""

    packet_id: str | None = Field(default=None, max_length=100)
    goal: str | None = Field(default=None, min_length=1, max_length=20_000,
                             description="plan from this goal and the project's context instead of a packet")
    fix_plan_id: str | None = Field(default=None, max_length=100,
                                    description="fix tasks for this FAILED plan, from its verify's failed checks")
    model: str | None = Field(default=None, max_length=200)
    tasks: list[dict[str, object]] | None = Field(default=None, max_length=200)
    summary: str | None = Field(default=None, max_length=MAX_TEXT)


class Verify(Body):
    force: bool = False
    rebase: bool = Field(default=False, description="rebuild the integration on the project branch's HEAD now")
    on: str | None = Field(default=None, max_length=300,
                           description='where the gates run: "local" (the default) or a Ray cluster (ray://HOST:PORT)')


class Merge(Body):
    squash: bool = False
    force: bool = Field(default=False, description="merge although the plan is not VERIFIED (recorded)")


class Resolve(Body):
    way: Literal["agent", "by-hand", "leave-out"]
    task_id: str | None = Field(default=None, max_length=100, description="leave-out: this task (default: the one "
                                                                          "that conflicts)")


class Retry(Body):
    task_id: str = Field(min_length=1, max_length=100, description="the task's id, its number, or one of its runs")
    prompt_extra: str | None = Field(default=None, max_length=MAX_TEXT, description="added to the task for this try")
    with_dependents: bool = Field(default=False, description="also the tasks cancelled because it failed")
    on: str | None = Field(default=None, max_length=300,
                           description='where it runs: "local", or a Ray cluster (ray://HOST:PORT); default: where '
                                       "the plan's runs ran")


class Archive(Body):
    archived: bool = Field(default=True, description="false: restore an archived plan")


class Clean(Body):
    plan_id: str | None = Field(default=None, max_length=100)
    merged: bool = False
    force: bool = Field(default=False, description="also unsaved work, kept under refs/pmdesk/backup/ first")


class Answer(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class ErrorDetail(BaseModel):
    code: str
    message: str
    owner: dict[str, object] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
