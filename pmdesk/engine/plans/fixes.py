"""Fix what verify found, by the user's action only: a FAILED plan's verify run is inspected (its
failed checks with their output), the model plans fix tasks from that and from what the plan
changed, and the fix plan records its parent. Dispatched, its tasks start from the parent's
integration branch, so verifying it verifies the combined work and merging it merges both."""

from __future__ import annotations

from pmdesk.engine.context import EngineContext
from pmdesk.engine.inspect import create_packet
from pmdesk.engine.plans.authoring import Authoring, Generated
from pmdesk.engine.plans.integrate import Integrator
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.engine.plans.planner import ask_model_for_fixes
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.plans.shape import PlanGenerationError, tasks_from_answer
from pmdesk.errors import PmdeskError
from pmdesk.models import Plan, Project

PATCH_CHARS = 12_000


class Fixes:
    def __init__(self, ctx: EngineContext, authoring: Authoring, integrator: Integrator, jobs: PlanJobs) -> None:
        self.ctx = ctx
        self.authoring = authoring
        self.integrator = integrator
        self.jobs = jobs

    async def generate_fixes(self, project: Project, plan_id: str, model: str | None = None) -> Generated:
        """Fix tasks proposed for the FAILED plan; nothing but the verify run's packet is stored
        (a failure is a FAILED fix plan, stored once, like every generation)."""
        failed = self.ctx.store(project).get_plan(plan_id)
        require(failed, PlanAction.FIX, live=plan_id in self.jobs)
        assert failed.verify_run_id is not None
        project = self.ctx.project_settings(project)
        chosen = model or project.settings.default_model or self.ctx.settings.default_model
        packet = await create_packet(self.ctx, project, failed.verify_run_id)
        try:
            answer = await ask_model_for_fixes(packet, await self._what_it_changed(project, failed), chosen)
        except PlanGenerationError as exc:
            stored = self.authoring.save_new(project, [], None, str(exc), chosen, packet_id=packet.packet_id,
                                             run_id=packet.run_id, parent_plan_id=plan_id)
            return Generated(failed=stored, model=chosen, run_id=packet.run_id, packet_id=packet.packet_id,
                             parent_plan_id=plan_id)
        return Generated(answer=answer, model=chosen, run_id=packet.run_id, packet_id=packet.packet_id,
                         parent_plan_id=plan_id)

    async def create_fix_plan(self, project: Project, plan_id: str, model: str | None = None) -> Plan:
        """Generate and store at once (the CLI and the API)."""
        generated = await self.generate_fixes(project, plan_id, model)
        if generated.failed is not None:
            return generated.failed
        assert generated.answer is not None
        return self.authoring.save_new(project, tasks_from_answer(generated.answer), generated.answer.summary, None,
                                       generated.model, packet_id=generated.packet_id, run_id=generated.run_id,
                                       parent_plan_id=plan_id)

    async def _what_it_changed(self, project: Project, plan: Plan) -> str:
        lines = ["The failed plan's tasks:"] + [f"- #{n} {t.status.value}: {t.description}"
                                                 for n, t in enumerate(plan.tasks, 1)]
        try:
            found = await self.integrator.diff(project, plan, stat_only=False)
        except (PmdeskError, OSError) as exc:
            return "\n".join([*lines, f"(what it changed could not be read: {exc})"])
        for part in found.sections:
            files = ", ".join(f"{f.path} (+{f.added} -{f.removed})" for f in part.stat.files[:40])
            lines.append(f"What it changed, {part.label}: {part.stat.files_changed} files: {files or 'nothing'}")
            lines.append(self.ctx.redactor.text(part.patch[:PATCH_CHARS]))
        return "\n".join(lines)

