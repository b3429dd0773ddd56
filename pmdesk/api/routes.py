"""The endpoints: thin adapters from HTTP to the engine, described once for routing and OpenAPI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from pmdesk.api import schemas
from pmdesk.api.errors import ApiError
from pmdesk.engine.costs import CostReport
from pmdesk.engine.engine import Engine
from pmdesk.engine.listing import DEFAULT_PAGE, MAX_PAGE, ORDERS, Order, page_activity, page_of, page_runs, parse_filter
from pmdesk.engine.overview import ProjectOverview
from pmdesk.engine.permissions import parse_mode
from pmdesk.engine.plans import Resolution
from pmdesk.engine.plans.estimate import DispatchEstimate
from pmdesk.engine.search import KINDS as SEARCH_KINDS
from pmdesk.engine.search import SearchResult
from pmdesk.errors import BadQueryError
from pmdesk.models import (
    ActivityEvent,
    Budget,
    DispatchRequest,
    DispatchResponse,
    ExecutorKind,
    InspectionPacket,
    Plan,
    PlanCreatedResponse,
    Project,
    Run,
    TaskState,
    VerifyResponse,
    jsonable,
    validate_id,
)
from pmdesk.store import PacketSummary, PlanSummary, RunSummary

B = TypeVar("B", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One operation: how it is served and how the OpenAPI document describes it."""

    method: str
    path: str
    name: str
    summary: str
    handler: str
    body: type[BaseModel] | None = None
    answers: dict[int, Any] = field(default_factory=dict)  # status -> schema ref (a type, [type] or a dict)
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    paged: bool = False  # answers a page: Link rel="next" and (where counted) X-Total-Count


def _json(value: Any, status: int = 200) -> web.Response:
    # What is answered was written first, through the store's scrub (records, events, activity).
    text = json.dumps(jsonable(value), ensure_ascii=False)
    return web.Response(body=text.encode("utf-8", "replace"), status=status, content_type="application/json")


def _page(request: web.Request, items: Any, next_cursor: str | None, total: int | None) -> web.Response:
    """A page as the API answers every listing: the items, the next page in the Link header."""
    answer = _json(items)
    if total is not None:
        answer.headers["X-Total-Count"] = str(total)
    if next_cursor:
        answer.headers["Link"] = f'<{request.rel_url.update_query(after=next_cursor)}>; rel="next"'
    return answer


def _limit(request: web.Request) -> int:
    return _int_query(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE) or DEFAULT_PAGE


def _order(request: web.Request) -> Order:
    order = request.query.get("order") or "newest"
    if order not in ORDERS:
        raise BadQueryError(f"unknown order {order!r}: choose from {', '.join(ORDERS)}")
    return order


def _plan_mark(plan: PlanSummary) -> tuple[str, str]:
    return plan.created_at, plan.plan_id


def _packet_mark(packet: PacketSummary) -> tuple[str, str]:
    return packet["createdAt"], packet["packetId"]


def _int_query(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_query", f"{name} must be between {low} and {high}")
    return value


def _bool_query(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, "invalid_query", f"{name} must be true or false, not {raw!r}")


async def _body(request: web.Request, model: type[B]) -> B:
    raw = await request.read()
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, and a number longer than Python parses (4,300 digits)
            raise ApiError(400, "invalid_json", f"the body is not JSON pmdesk can read: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "the body must be a JSON object")
    return model.model_validate(data)


class Api:
    """Handlers bound to one engine. Background work (runs, plans) lives in the engine, not here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- lookups ------------------------------------------------------------------------------

    def _project(self, request: web.Request) -> Project:
        project_id = validate_id(request.match_info["projectId"], "pidx")
        for project in self.engine.projects():
            if project.project_id == project_id:
                return project
        raise ApiError(404, "not_found", f"no registered project {project_id}")

    def _owner(self, kind: str, key: str, request: web.Request) -> tuple[Project, str]:
        item_id = request.match_info[key]
        return self.engine.locate(kind, item_id), item_id

    # -- projects -----------------------------------------------------------------------------

    async def list_projects(self, request: web.Request) -> web.Response:
        return web.Response(body=self.engine.overviews_json(), content_type="application/json")

    async def add_project(self, request: web.Request) -> web.Response:
        body = await _body(request, schemas.NewProject)
        if not body.path.startswith("/"):
            raise ApiError(422, "invalid_project", "the path must be absolute")
        return _json(self.engine.add_project(body.path, body.name), 201)

    async def get_project(self, request: web.Request) -> web.Response:
        """The overview, settings and the first page of plans and of runs (the rest: their listings)."""
        project = self.engine.project_settings(self._project(request))
        store = self.engine.store(project)
        runs = page_runs(await asyncio.to_thread(store.list_runs))
        plans = page_of(store.list_plans(), _plan_mark)
        return _json({"overview": self.engine.overview(project), "settings": project.settings,
                      "plans": plans.items, "plansNext": plans.next, "runs": runs.items, "runsNext": runs.next})

    async def remove_project(self, request: web.Request) -> web.Response:
        project = self._project(request)
        return _json(self.engine.remove_project(project.project_id))

    async def project_runs(self, request: web.Request) -> web.Response:
        """A page of the project's runs; the next one is in the Link header (rel="next")."""
        store = self.engine.store(self._project(request))
        q = request.query
        wanted = parse_filter(q.get("status"), q.get("executor"), q.get("plan"), q.get("q"))
        page = page_runs(await asyncio.to_thread(store.list_runs), wanted, _order(request), q.get("after") or None,
                         _limit(request))
        return _page(request, page.items, page.next, page.total)

    async def project_plans(self, request: web.Request) -> web.Response:
        plans = self.engine.store(self._project(request)).list_plans()
        page = page_of(plans, _plan_mark, _order(request), request.query.get("after") or None, _limit(request))
        return _page(request, page.items, page.next, len(plans))

    async def project_packets(self, request: web.Request) -> web.Response:
        packets = await asyncio.to_thread(self.engine.store(self._project(request)).list_packets)
        page = page_of(packets, _packet_mark, _order(request), request.query.get("after") or None, _limit(request))
        return _page(request, page.items, page.next, len(packets))

    async def project_activity(self, request: web.Request) -> web.Response:
        store = self.engine.store(self._project(request))
        page = await asyncio.to_thread(page_activity, store, request.query.get("after") or None, _limit(request))
        return _page(request, page.items, page.next, None)

    async def awaiting(self, request: web.Request) -> web.Response:
        out = []
        for project in self.engine.projects():
            if not Path(project.path).is_dir():
                continue  # a vanished folder has nothing to answer
            store = self.engine.store(project)
            if not store.run_tally().count(TaskState.AWAITING_RESPONSE):
                continue  # the kept tally says so without a listing
            for summary in store.list_runs():
                if summary.status == TaskState.AWAITING_RESPONSE:
                    out.append({**summary.to_json_dict(), "projectId": project.project_id, "projectName": project.name})
        return _json(out)

    # -- runs ---------------------------------------------------------------------------------

    async def create_run(self, request: web.Request) -> web.Response:
        project = self._project(request)
        body = await _body(request, schemas.NewRun)
        mode = parse_mode(body.permission_mode) if body.permission_mode else None
        run = await self.engine.runs.launch(project, body.prompt, executor=body.executor, model=body.model,
                                            in_worktree=body.in_worktree, permission_mode=mode)
        return _json(run, 201)

    async def get_run(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        return _json(self.engine.store(project).get_run(run_id))

    async def run_events(self, request: web.Request) -> web.Response:
        after = _int_query(request, "after", None, 0, 1 << 62)
        limit = _int_query(request, "limit", 500, 1, MAX_PAGE) or 500
        project, run_id = self._owner("run", "runId", request)
        store = self.engine.store(project)
        run = store.get_run(run_id)
        events = store.read_events(run_id, after=after, limit=limit)
        cursor = events[-1].seq if events else after
        more = len(events) == limit
        answer = _json({"runId": run_id, "status": run.status.value, "events": events, "next": cursor, "more": more})
        if more and cursor is not None:
            answer.headers["Link"] = f'<{request.rel_url.update_query(after=cursor)}>; rel="next"'
        return answer

    async def respond(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        body = await _body(request, schemas.Answer)
        return _json(await self.engine.answer(project, run_id, body.text))

    async def approve(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        body = await _body(request, schemas.Approve)
        choices = {k: v for k, v in {"always": body.always, "rule": body.rule, "answers": body.answers,
                                     "free_text": body.text, "accept_edits": body.accept_edits}.items() if v}
        return _json(await self.engine.decide(project, run_id, True, **choices))

    async def deny(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        body = await _body(request, schemas.Deny)
        return _json(await self.engine.decide(project, run_id, False, message=body.message))

    async def interrupt(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        return _json(await self.engine.interrupt(project, run_id))

    async def set_permissions(self, request: web.Request) -> web.Response:
        project = self._project(request)
        body = await _body(request, schemas.Permissions)
        saved = self.engine.set_permissions(project, body.mode, body.allow, body.deny, body.confirm_bypass)
        return _json(saved.settings)

    async def cancel_run(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        return _json(await self.engine.runs.cancel(project, run_id))

    async def inspect_run(self, request: web.Request) -> web.Response:
        project, run_id = self._owner("run", "runId", request)
        return _json(await self.engine.inspect(project, run_id), 201)

    async def get_packet(self, request: web.Request) -> web.Response:
        project, packet_id = self._owner("packet", "packetId", request)
        return _json(self.engine.packet(project, packet_id))

    # -- the loop -------------------------------------------------------------------------------

    async def create_plan(self, request: web.Request) -> web.Response:
        project = self._project(request)
        body = await _body(request, schemas.NewPlan)
        if body.tasks is not None:
            raw: dict[str, Any] = {"tasks": body.tasks}
            if body.summary:
                raw["summary"] = body.summary
            plan = self.engine.plans.plan_from_answer(project, raw, packet_id=body.packet_id)
        elif sum(bool(x) for x in (body.packet_id, body.goal, body.fix_plan_id)) > 1:
            raise ApiError(422, "invalid_body", "give one of packetId, goal and fixPlanId, not both")
        elif body.fix_plan_id:
            plan = await self.engine.plans.create_fix_plan(project, body.fix_plan_id, body.model)
        elif body.packet_id:
            plan = await self.engine.plans.create_plan(project, body.packet_id, body.model)
        elif body.goal:
            plan = await self.engine.plans.create_from_goal(project, body.goal, body.model)
        else:
            raise ApiError(422, "invalid_body", "packetId or goal is required (or tasks, to build a plan without "
                                                "the model)")
        answer = PlanCreatedResponse(plan_id=plan.plan_id, status=plan.status, tasks=plan.tasks,
                                     created_at=plan.created_at).to_json_dict()
        if plan.gate_result is not None:  # a FAILED generation says why
            answer["gateResult"] = plan.gate_result.to_json_dict()
        return _json(answer, 201)

    async def get_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        return _json(self.engine.store(project).get_plan(plan_id))

    async def dispatch(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, DispatchRequest)
        answer = await self.engine.plans.dispatch(project, plan_id, parallel=body.parallel,
                                                  max_parallel=body.max_parallel, in_place=bool(body.in_place),
                                                  budget=body.budget, on=body.on)
        return _json(answer)

    async def estimate(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        parallel = _bool_query(request, "parallel", True)
        limit = _int_query(request, "maxParallel", None, 1, 32)
        on = request.query.get("on") or None
        return _json(await asyncio.to_thread(self.engine.plans.estimate, project, plan_id, parallel, limit,
                                             None, None, None, on))

    async def verify(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.Verify)
        if _bool_query(request, "wait", True):
            return _json(_verify_answer(await self.engine.plans.verify(project, plan_id, force=body.force,
                                                                       rebase=body.rebase, on=body.on)))
        # a refusal (409) is raised here, before anything is answered; the gates run on in the engine
        plan = await self.engine.plans.start_verify(project, plan_id, force=body.force, rebase=body.rebase, on=body.on)
        return _json(_verify_answer(plan), 202)

    async def cancel_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        return _json(await self.engine.plans.cancel(project, plan_id))

    async def retry_task(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.Retry)
        return _json(await self.engine.plans.retry(project, plan_id, body.task_id, prompt_extra=body.prompt_extra,
                                                   with_dependents=body.with_dependents, on=body.on))

    async def archive_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.Archive)
        return _json(self.engine.plans.archive(project, plan_id, archived=body.archived))

    async def delete_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        return _json({"planId": plan_id, "keptAt": self.engine.plans.delete(project, plan_id)})

    # -- isolation: review, merge, conflicts, worktrees -------------------------------------------

    async def plan_diff(self, request: web.Request) -> web.Response:
        _, plan_id = self._owner("plan", "planId", request)
        return _json(await self.engine.diff(plan_id, _bool_query(request, "stat", False)))

    async def run_diff(self, request: web.Request) -> web.Response:
        _, run_id = self._owner("run", "runId", request)
        return _json(await self.engine.diff(run_id, _bool_query(request, "stat", False)))

    async def merge_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.Merge)
        return _json(await self.engine.plans.merge(project, plan_id, squash=body.squash, force=body.force))

    async def resolve_plan(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.Resolve)
        return _json(await self.engine.plans.resolve(project, plan_id, Resolution(body.way), body.task_id))

    async def project_worktrees(self, request: web.Request) -> web.Response:
        project = self._project(request)
        found = await self.engine.isolation.listing(project)
        return _json({"projectId": project.project_id, "worktrees": [w.to_json_dict() for w in found]})

    async def clean_worktrees(self, request: web.Request) -> web.Response:
        project = self._project(request)
        body = await _body(request, schemas.Clean)
        if body.plan_id:
            validate_id(body.plan_id, "plan")
        done = await self.engine.clean(project, body.plan_id, body.merged, body.force)
        return _json({"removed": done.removed, "branchesDeleted": done.branches_deleted, "backups": done.backups,
                      "refused": done.refused, "pruned": done.pruned}, 409 if done.refused else 200)

    async def project_cost(self, request: web.Request) -> web.Response:
        return _json(await self.engine.cost(self._project(request), since=request.query.get("since") or None))

    async def plan_cost(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        return _json(await self.engine.cost(project, plan_id, request.query.get("since") or None))

    async def project_budget(self, request: web.Request) -> web.Response:
        body = await _body(request, schemas.SetBudget)
        budget = Budget(usd=body.usd, tokens=body.tokens)
        return _json(await self.engine.set_budget(self._project(request), budget))

    async def plan_budget(self, request: web.Request) -> web.Response:
        project, plan_id = self._owner("plan", "planId", request)
        body = await _body(request, schemas.SetBudget)
        return _json(await self.engine.set_budget(project, Budget(usd=body.usd, tokens=body.tokens), plan_id))

    async def search(self, request: web.Request) -> web.Response:
        text = request.query.get("q", "")
        project = None
        if request.query.get("project"):
            project_id = validate_id(request.query["project"], "pidx")
            project = next((p for p in self.engine.projects() if p.project_id == project_id), None)
            if project is None:
                raise ApiError(404, "not_found", f"no registered project {project_id}")
        kinds = request.query.getall("kind", []) or None
        limit = _int_query(request, "limit", 50, 1, 500) or 50
        found = await self.engine.search(text, project, kinds, request.query.get("since"), limit,
                                         request.query.get("after") or None)
        return _page(request, found, found.next, None)


def _verify_answer(plan: Plan) -> dict[str, Any]:
    return VerifyResponse(plan_id=plan.plan_id, status=plan.status, verify_run_id=plan.verify_run_id,
                          gate_result=plan.gate_result, verified_at=plan.verified_at).to_json_dict()


_PAGE_OF_EVENTS = {"type": "object", "required": ["runId", "status", "events", "more"], "properties": {
    "runId": {"type": "string"}, "status": {"type": "string"},
    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    "next": {"type": ["integer", "null"], "description": "pass as ?after= for the next page"},
    "more": {"type": "boolean"}}}
_AFTER = ("after", {"type": "integer", "minimum": 0}, "events after this seq (the previous page's next)")
_LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size")
_WAIT = ("wait", {"type": "boolean"}, "false: answer 202 as soon as the gates start")
_STAT = ("stat", {"type": "boolean"}, "files and +/- counts only, no patch")
_DIFF = {"type": "object", "required": ["target", "sections"], "properties": {
    "target": {"type": "string"}, "note": {"type": ["string", "null"]},
    "sections": {"type": "array", "items": {"type": "object", "properties": {
        "label": {"type": "string"}, "start": {"type": "string"}, "end": {"type": ["string", "null"]},
        "stat": {"type": "object"}, "patch": {"type": "string"}, "truncated": {"type": "boolean"}}}}}}
_SINCE = ("since", {"type": "string"}, "only runs from this day (YYYY-MM-DD) on")
_STATUS = ("status", {"type": "string", "enum": [s.value for s in TaskState]}, "only runs in this state")
_RUN_PAGE = (_STATUS,
             ("executor", {"type": "string", "enum": [k.value for k in ExecutorKind]}, "only runs of this executor"),
             ("plan", {"type": "string"}, "only the runs of this plan"),
             ("q", {"type": "string"}, "only runs whose prompt, question or error holds this text"),
             ("order", {"type": "string", "enum": list(ORDERS)}, "newest (default) or oldest first"),
             ("after", {"type": "string"}, "the cursor of the Link header's next page"),
             ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"page size (default {DEFAULT_PAGE})"))
_PAGE = _RUN_PAGE[4:]  # order, after, limit

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/projects", "listProjects", "Every registered project with its derived status",
          "list_projects", answers={200: [ProjectOverview]}),
    Route("POST", "/api/projects", "registerProject", "Register a local folder as a project",
          "add_project", schemas.NewProject, {201: Project}),
    Route("GET", "/api/projects/{projectId}", "getProject", "A project with its settings, plans and runs",
          "get_project", answers={200: "ProjectDetail"}),
    Route("DELETE", "/api/projects/{projectId}", "removeProject", "Unregister a project (its files stay)",
          "remove_project", answers={200: Project}),
    Route("GET", "/api/projects/{projectId}/runs", "listRuns",
          "A page of a project's runs (X-Total-Count: how many pass the filter; Link rel=next: the next page)",
          "project_runs", answers={200: [RunSummary]}, query=_RUN_PAGE, paged=True),
    Route("POST", "/api/projects/{projectId}/runs", "createRun", "Start a run; returns once its agent is up",
          "create_run", schemas.NewRun, {201: Run}),
    Route("GET", "/api/projects/{projectId}/plans", "listPlans", "A page of a project's plans, newest first",
          "project_plans", answers={200: [PlanSummary]}, query=_PAGE, paged=True),
    Route("POST", "/api/projects/{projectId}/plan", "createPlan",
          "Generate a plan from an inspection packet (or from tasks given in the body)",
          "create_plan", schemas.NewPlan, {201: PlanCreatedResponse}),
    Route("GET", "/api/projects/{projectId}/packets", "listPackets", "A page of a project's inspection packets",
          "project_packets", answers={200: {"type": "array", "items": {"type": "object"}}}, query=_PAGE, paged=True),
    Route("GET", "/api/projects/{projectId}/activity", "listActivity", "A page of the evidence trail, newest first",
          "project_activity", answers={200: [ActivityEvent]}, query=_PAGE[1:], paged=True),
    Route("GET", "/api/awaiting", "listAwaiting", "Runs waiting for an answer, across projects", "awaiting",
          answers={200: {"type": "array", "items": {"type": "object"}}}),
    Route("GET", "/api/runs/{runId}", "getRun", "A run", "get_run", answers={200: Run}),
    Route("GET", "/api/runs/{runId}/events", "listRunEvents", "A run's events, paged by seq", "run_events",
          answers={200: _PAGE_OF_EVENTS}, query=(_AFTER, _LIMIT), paged=True),
    Route("POST", "/api/runs/{runId}/respond", "respondToRun", "Answer a run that needs a response",
          "respond", schemas.Answer, {200: Run}),
    Route("POST", "/api/runs/{runId}/approve", "approveRun",
          "Allow the tool, answer the question or approve the plan the run waits on, in the same turn",
          "approve", schemas.Approve, {200: Run}),
    Route("POST", "/api/runs/{runId}/deny", "denyRun",
          "Deny what the run waits on; the message is told to the agent", "deny", schemas.Deny, {200: Run}),
    Route("POST", "/api/runs/{runId}/interrupt", "interruptRun",
          "Stop the agent's current turn; the run waits for the next message", "interrupt", answers={200: Run}),
    Route("PUT", "/api/projects/{projectId}/permissions", "setPermissions",
          "The project's permission mode and allow/deny rules for new runs", "set_permissions",
          schemas.Permissions, {200: {"type": "object"}}),
    Route("POST", "/api/runs/{runId}/cancel", "cancelRun", "Cancel a run (its whole process group)",
          "cancel_run", answers={200: Run}),
    Route("POST", "/api/runs/{runId}/inspect", "inspectRun", "Create an inspection packet of a run",
          "inspect_run", answers={201: InspectionPacket}),
    Route("GET", "/api/packets/{packetId}", "getPacket", "An inspection packet", "get_packet",
          answers={200: InspectionPacket}),
    Route("GET", "/api/plans/{planId}", "getPlan", "A plan with all its task statuses", "get_plan",
          answers={200: Plan}),
    Route("POST", "/api/plans/{planId}/dispatch", "dispatchPlan",
          "Dispatch a DRAFT plan's tasks as runs; returns once they are created", "dispatch",
          DispatchRequest, {200: DispatchResponse}),
    Route("GET", "/api/plans/{planId}/estimate", "estimateDispatch",
          "What dispatching the plan would take: runs, waves, peak agents, and tokens, cost and time from history",
          "estimate", answers={200: DispatchEstimate},
          query=(("parallel", {"type": "boolean"}, "false: one task at a time"),
                 ("maxParallel", {"type": "integer", "minimum": 1, "maximum": 32}, "at most this many at once"),
                 ("on", {"type": "string", "maxLength": 300},
                  '"local", or a Ray cluster (ray://HOST:PORT): its nodes, free CPUs and what it takes at once'))),
    Route("POST", "/api/plans/{planId}/verify", "verifyPlan", "Run gate:all on a plan", "verify",
          schemas.Verify, {200: VerifyResponse, 202: VerifyResponse}, query=(_WAIT,)),
    Route("POST", "/api/plans/{planId}/cancel", "cancelPlan", "Cancel a plan's runs", "cancel_plan",
          answers={200: Plan}),
    Route("POST", "/api/plans/{planId}/retry", "retryTask",
          "Run a task that failed, was cancelled or changed nothing again (a fresh worktree; the old run is kept)",
          "retry_task", schemas.Retry, {200: Plan}),
    Route("POST", "/api/plans/{planId}/archive", "archivePlan",
          "Archive a DRAFT or ended plan (archived: false restores it)", "archive_plan", schemas.Archive,
          {200: Plan}),
    Route("DELETE", "/api/plans/{planId}", "deletePlan",
          "Delete a DRAFT or ended plan without worktrees: its file goes to the state's trash, its runs stay",
          "delete_plan", answers={200: {"type": "object"}}),
    Route("GET", "/api/plans/{planId}/diff", "diffPlan",
          "What the plan changed: base..integration, or each task's branch before verify", "plan_diff",
          answers={200: _DIFF}, query=(_STAT,)),
    Route("GET", "/api/runs/{runId}/diff", "diffRun", "What a run in a worktree changed", "run_diff",
          answers={200: _DIFF}, query=(_STAT,)),
    Route("POST", "/api/plans/{planId}/merge", "mergePlan",
          "Merge a verified plan's integration branch into the project's current branch", "merge_plan",
          schemas.Merge, {200: Plan}),
    Route("POST", "/api/plans/{planId}/resolve", "resolvePlan",
          "Get past the merge conflict that stopped verify: an agent, by hand, or leave the task out",
          "resolve_plan", schemas.Resolve, {200: {"oneOf": [{"$ref": "#/components/schemas/Plan"},
                                                            {"$ref": "#/components/schemas/Run"}]}}),
    Route("GET", "/api/projects/{projectId}/worktrees", "listWorktrees",
          "pmdesk's worktrees of a project: plan, task, branch, size and state", "project_worktrees",
          answers={200: {"type": "object"}}),
    Route("POST", "/api/projects/{projectId}/clean", "cleanWorktrees",
          "Remove a plan's (or every merged) worktree and branch; unsaved work is refused unless forced",
          "clean_worktrees", schemas.Clean, {200: {"type": "object"}, 409: {"type": "object"}}),
    Route("GET", "/api/projects/{projectId}/cost", "projectCost",
          "What the project's runs cost: in all, today, this month, per day, by plan, and against the budget",
          "project_cost", answers={200: CostReport}, query=(_SINCE,)),
    Route("GET", "/api/plans/{planId}/cost", "planCost",
          "What the plan's runs (and its fix plans') cost, by task, and against the plan's budget", "plan_cost",
          answers={200: CostReport}, query=(_SINCE,)),
    Route("PUT", "/api/projects/{projectId}/budget", "setProjectBudget",
          "The project's budget per calendar month (neither figure: none); held plans go on once it allows",
          "project_budget", schemas.SetBudget, {200: {"type": "object"}}),
    Route("PUT", "/api/plans/{planId}/budget", "setPlanBudget",
          "The plan's budget in all (neither figure: none); a plan held at it goes on once it allows",
          "plan_budget", schemas.SetBudget, {200: {"type": "object"}}),
    Route("GET", "/api/search", "search",
          "Search every project's prompts, questions, answers, agent text, tool calls, output, gate output and "
          "plan tasks, newest first", "search", answers={200: SearchResult},
          query=(("q", {"type": "string"}, 'words (all must match), a "phrase", a prefix*'),
                 ("project", {"type": "string"}, "only this project"),
                 ("kind", {"type": "string", "enum": list(SEARCH_KINDS)}, "only this kind (repeatable)"),
                 ("since", {"type": "string"}, "only hits from this day (YYYY-MM-DD) or time on"),
                 ("after", {"type": "string"}, "the cursor of the last page (its next, or the Link header)"),
                 ("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "how many hits at most")),
          paged=True),
)
