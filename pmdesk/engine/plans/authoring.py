"""Authoring: a plan from the model's answer to a packet or to a written goal, from a hand-written
task list, or edited.

Every failure to produce tasks is the spec's FAILED plan with a ``plan_generation`` check.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmdesk.engine.context import EngineContext
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.planner import ask_model_for_goal, ask_model_for_plan
from pmdesk.engine.plans.project_context import project_context
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.plans.shape import PlanAnswer, PlanGenerationError, tasks_from_answer, validate_answer
from pmdesk.errors import BadInputError
from pmdesk.models import ActivityType, GateCheck, GateResult, Plan, PlanStatus, PlanTask, Project, new_id
from pmdesk.store import NotFoundError, StoreError

MAX_GOAL = 20_000


@dataclass(frozen=True)
class Generated:
    """What the model proposed (not stored), or the FAILED plan its failure was stored as."""

    answer: PlanAnswer | None = None
    failed: Plan | None = None
    model: str | None = None
    run_id: str | None = None  # the run its packet inspected
    goal: str | None = None  # or the goal it was planned from
    packet_id: str | None = None  # the packet it was planned from (a fix plan's: its parent's verify run)
    parent_plan_id: str | None = None  # a fix plan's parent


class Authoring:
    def __init__(self, ctx: EngineContext, changes: PlanChanges) -> None:
        self.ctx = ctx
        self.changes = changes

    async def generate(self, project: Project, packet_id: str, model: str | None = None) -> Generated:
        """Ask the model for a plan and store nothing: the user previews and edits it, and Save
        stores it (``plan_from_answer``). A failure is the spec's FAILED plan, stored once."""
        store = self.ctx.store(project)
        project = self.ctx.project_settings(project)
        chosen = model or project.settings.default_model or self.ctx.settings.default_model
        packet = None
        try:
            packet = store.get_packet(packet_id)
            return Generated(answer=await ask_model_for_plan(packet, chosen), model=chosen, run_id=packet.run_id)
        except NotFoundError:
            error = f"inspection packet {packet_id} is not in project {project.name}"
        except StoreError as exc:
            error = f"inspection packet {packet_id} could not be read: {exc}"
        except ValueError as exc:  # InvalidIdError or PlanGenerationError
            error = str(exc)
        failed = self.save_new(project, [], None, error, chosen, packet_id=packet.packet_id if packet else None,
                                run_id=packet.run_id if packet else None)
        return Generated(failed=failed, model=chosen)

    async def generate_from_goal(self, project: Project, goal: str, model: str | None = None) -> Generated:
        """A plan for a written goal, from the project's context (its files, README, recent plans);
        stores nothing, like ``generate``; a failure is a FAILED plan, stored once."""
        goal = goal.strip()
        project = self.ctx.project_settings(project)
        chosen = model or project.settings.default_model or self.ctx.settings.default_model
        if not goal:
            raise BadInputError("the goal is empty: say what the plan should achieve")
        if len(goal) > MAX_GOAL:
            raise BadInputError(f"the goal is {len(goal):,} characters; at most {MAX_GOAL:,}")
        store = self.ctx.store(project)
        context = await asyncio.to_thread(project_context, Path(project.path), store, self.ctx.redactor.text)
        try:
            answer = await ask_model_for_goal(self.ctx.redactor.text(goal), context, chosen)
            return Generated(answer=answer, model=chosen, goal=goal)
        except PlanGenerationError as exc:
            failed = self.save_new(project, [], None, str(exc), chosen, packet_id=None, run_id=None, goal=goal)
            return Generated(failed=failed, model=chosen, goal=goal)

    async def create_from_goal(self, project: Project, goal: str, model: str | None = None) -> Plan:
        """Generate from a goal and store at once (the CLI and the API)."""
        generated = await self.generate_from_goal(project, goal, model)
        if generated.failed is not None:
            return generated.failed
        assert generated.answer is not None
        return self.save_new(project, tasks_from_answer(generated.answer), generated.answer.summary, None,
                              generated.model, packet_id=None, run_id=None, goal=generated.goal)

    async def create_plan(self, project: Project, packet_id: str, model: str | None = None) -> Plan:
        """Generate and store at once (the CLI and the API). Every failure is a FAILED plan with a
        plan_generation check."""
        generated = await self.generate(project, packet_id, model)
        if generated.failed is not None:
            return generated.failed
        assert generated.answer is not None
        return self.save_new(project, tasks_from_answer(generated.answer), generated.answer.summary, None,
                              generated.model, packet_id=packet_id, run_id=generated.run_id)

    def plan_from_answer(self, project: Project, raw: Any, packet_id: str | None = None,
                         model: str | None = None, goal: str | None = None, parent_plan_id: str | None = None) -> Plan:
        """A plan written by hand, by a script or previewed from ``generate``, in the submit_plan
        format (same checks)."""
        run_id = None
        if packet_id:
            run_id = self.ctx.store(project).get_packet(packet_id).run_id
        try:
            answer: PlanAnswer = validate_answer(raw)
        except PlanGenerationError as exc:
            return self.save_new(project, [], None, str(exc), None, packet_id=packet_id, run_id=run_id, goal=goal,
                                 parent_plan_id=parent_plan_id)
        return self.save_new(project, tasks_from_answer(answer), answer.summary, None, model,
                             packet_id=packet_id, run_id=run_id, goal=goal, parent_plan_id=parent_plan_id)

    def edit_tasks(self, project: Project, plan_id: str, raw: Any) -> Plan:
        """Replace a DRAFT plan's tasks with an edited list (submit_plan format)."""
        answer = validate_answer(raw)

        def change(plan: Plan) -> None:
            require(plan, PlanAction.EDIT)
            plan.tasks = tasks_from_answer(answer)
            plan.summary = answer.summary or plan.summary

        return self.changes.update_now(project, plan_id, change)

    def save_new(self, project: Project, tasks: list[PlanTask], summary: str | None, error: str | None,
                 model: str | None, packet_id: str | None, run_id: str | None, goal: str | None = None,
                 parent_plan_id: str | None = None) -> Plan:
        plan = Plan(plan_id=new_id("plan"), project_id=project.project_id, packet_id=packet_id,
                    run_id=run_id, tasks=tasks, summary=summary, model=model,
                    goal=self.ctx.redactor.text(goal) if goal else None, parent_plan_id=parent_plan_id)
        if error:
            plan.status = PlanStatus.FAILED
            plan.gate_result = GateResult(passed=False, checks=[
                GateCheck(name="plan_generation", passed=False, message=error)])
        plan = self.ctx.store(project).put_plan(plan)
        made = f"plan created with {len(tasks)} tasks" if not error else "plan generation failed"
        if parent_plan_id:
            made = f"fix plan for plan {parent_plan_id}: " + made
        self.ctx.record(project, ActivityType.PLAN_CREATED, made, plan_id=plan.plan_id, packet_id=packet_id,
                        run_id=run_id, actor="planner", data={"parentPlanId": parent_plan_id} if parent_plan_id else None)
        if error:
            self.ctx.record(project, ActivityType.PLAN_FAILED, f"plan_generation: {error}",
                            plan_id=plan.plan_id, actor="planner")
        self.ctx.publish_plan(project, plan)
        return plan
