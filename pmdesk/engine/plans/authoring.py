"""Authoring: a plan from the model's answer to a packet, from a hand-written task list, or edited.

Every failure to produce tasks is the spec's FAILED plan with a ``plan_generation`` check.
"""

from __future__ import annotations

from typing import Any

from pmdesk.engine.context import EngineContext
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.planner import ask_model_for_plan
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.plans.shape import PlanAnswer, PlanGenerationError, tasks_from_answer, validate_answer
from pmdesk.models import ActivityType, GateCheck, GateResult, Plan, PlanStatus, PlanTask, Project, new_id
from pmdesk.store import NotFoundError, StoreError


class Authoring:
    def __init__(self, ctx: EngineContext, changes: PlanChanges) -> None:
        self.ctx = ctx
        self.changes = changes

    async def create_plan(self, project: Project, packet_id: str, model: str | None = None) -> Plan:
        """Ask the model for a plan. Every failure is a FAILED plan with a plan_generation check."""
        store = self.ctx.store(project)
        project = self.ctx.project_settings(project)
        chosen = model or project.settings.default_model or self.ctx.settings.default_model
        packet = None
        try:
            packet = store.get_packet(packet_id)
            answer = await ask_model_for_plan(packet, chosen)
            tasks = tasks_from_answer(answer)
            summary = answer.summary
            error = None
        except NotFoundError:
            tasks, summary, error = [], None, f"inspection packet {packet_id} is not in project {project.name}"
        except StoreError as exc:
            tasks, summary, error = [], None, f"inspection packet {packet_id} could not be read: {exc}"
        except ValueError as exc:  # InvalidIdError or PlanGenerationError
            tasks, summary, error = [], None, str(exc)
        return self._save_new(project, tasks, summary, error, chosen,
                              packet_id=packet.packet_id if packet else None,
                              run_id=packet.run_id if packet else None)

    def plan_from_answer(self, project: Project, raw: Any, packet_id: str | None = None) -> Plan:
        """A plan written by hand or by a script, in the submit_plan format (same checks)."""
        run_id = None
        if packet_id:
            run_id = self.ctx.store(project).get_packet(packet_id).run_id
        try:
            answer: PlanAnswer = validate_answer(raw)
        except PlanGenerationError as exc:
            return self._save_new(project, [], None, str(exc), None, packet_id=packet_id, run_id=run_id)
        return self._save_new(project, tasks_from_answer(answer), answer.summary, None, None,
                              packet_id=packet_id, run_id=run_id)

    def edit_tasks(self, project: Project, plan_id: str, raw: Any) -> Plan:
        """Replace a DRAFT plan's tasks with an edited list (submit_plan format)."""
        answer = validate_answer(raw)

        def change(plan: Plan) -> None:
            require(plan, PlanAction.EDIT)
            plan.tasks = tasks_from_answer(answer)
            plan.summary = answer.summary or plan.summary

        return self.changes.update_now(project, plan_id, change)

    def _save_new(self, project: Project, tasks: list[PlanTask], summary: str | None, error: str | None,
                  model: str | None, packet_id: str | None, run_id: str | None) -> Plan:
        plan = Plan(plan_id=new_id("plan"), project_id=project.project_id, packet_id=packet_id,
                    run_id=run_id, tasks=tasks, summary=summary, model=model)
        if error:
            plan.status = PlanStatus.FAILED
            plan.gate_result = GateResult(passed=False, checks=[
                GateCheck(name="plan_generation", passed=False, message=error)])
        plan = self.ctx.store(project).put_plan(plan)
        self.ctx.record(project, ActivityType.PLAN_CREATED,
                        f"plan created with {len(tasks)} tasks" if not error else "plan generation failed",
                        plan_id=plan.plan_id, packet_id=packet_id, run_id=run_id, actor="planner")
        if error:
            self.ctx.record(project, ActivityType.PLAN_FAILED, f"plan_generation: {error}",
                            plan_id=plan.plan_id, actor="planner")
        self.ctx.publish_plan(project, plan)
        return plan
