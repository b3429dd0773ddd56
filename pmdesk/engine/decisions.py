"""The user's hand on a working agent: allow or deny what it asks, answer its questions, approve
its plan, interrupt its turn, send it a message while it works.

A request is decided by a kept rule when one matches; otherwise the run waits, AWAITING_RESPONSE
with the request stored on it, and the decision goes back into the same turn. When the agent's
process has gone meanwhile (a restart), the decision resumes its session and says in words what
was decided; an allowed tool asked again with the same input is then allowed without asking.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from pmdesk.engine.permissions import (
    answers_input,
    grant_for,
    headline,
    parse_rules,
    preview,
    suggest_rule,
    told_after_restart,
)
from pmdesk.errors import BadInputError, WrongStateError
from pmdesk.executors.base import ExecutorError, Outcome, Verdict
from pmdesk.executors.process import pid_alive
from pmdesk.models import (
    ActivityType,
    Clarification,
    Decision,
    IllegalTransitionError,
    PermissionMode,
    Project,
    RequestKind,
    Run,
    TaskState,
    ToolRequest,
    check_task_transition,
)

if TYPE_CHECKING:
    from pmdesk.engine.runs import LiveRun, RunService

ALWAYS = ("run", "project")


class NoRequestError(WrongStateError):
    """The run does not wait for a decision (any more)."""


class NotHeldHereError(WrongStateError):
    """The run's agent is not followed by this process (another may hold it)."""


class Decisions:
    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self.ctx = runs.ctx

    # -- the agent asks -------------------------------------------------------------------------

    async def on_request(self, live: LiveRun, outcome: Outcome) -> None:
        request = outcome.request
        assert request is not None and live.execution is not None and live.policy is not None
        settled = live.policy.decide(request)
        if settled is None and request.kind == RequestKind.PERMISSION:
            known = live.snapshot if live.snapshot is not None else await self.ctx.disk(live.store.get_run, live.run_id)
            if grant_for(known.granted, request) is not None:
                settled = (True, "your decision while the agent was restarted")
        if settled is not None:
            allowed, why = settled
            await self._settle(live, request, allowed, why)
            return
        request.suggested_rule = suggest_rule(request) if request.kind == RequestKind.PERMISSION else None
        shown = request.model_copy(update={"preview": preview(request, live.ctx.workdir)})  # a bounded read

        def waiting(run: Run) -> None:
            run.status = TaskState.AWAITING_RESPONSE
            run.pending_request = shown
            run.pending_question = Clarification(question=headline(request))
            run.agent_session_id = outcome.agent_session_id or run.agent_session_id
            run.agent_version = outcome.agent_version or run.agent_version

        def change(run: Run) -> None:
            check_task_transition(run.status, TaskState.AWAITING_RESPONSE)
            waiting(run)

        live.pending = shown
        if live.snapshot is not None:  # shown at once; the durable write follows (and is published again)
            early = live.snapshot.model_copy(deep=True)
            waiting(early)
            self.ctx.publish_run(live.project, early)
        # The log first: a run record that shows the request always has its log line, even
        # when the app is killed between the two writes.
        live.recorder.emit("permission", headline(request), {"requestId": request.request_id,
                                                             "tool": request.tool_name, "kind": request.kind.value})
        live.recorder.flush()
        run = await self.runs._update(live, change)
        self.ctx.record(live.project, ActivityType.RUN_PERMISSION_ASKED, f"needs a response: {headline(request)[:120]}",
                        run_id=live.run_id, plan_id=run.plan_id, task_id=run.plan_task_id, actor="agent")
        live.paused.set()

    async def _settle(self, live: LiveRun, request: ToolRequest, allowed: bool, why: str) -> None:
        """A kept rule decides: the agent hears at once, and the run's record says which rule."""
        assert live.execution is not None
        message = None if allowed else f"Denied by the rule {why} (pmdesk's permission rules for this project)."
        await live.execution.decide(request.request_id, Verdict(allow=allowed, message=message))
        decision = Decision(request_id=request.request_id, tool_name=request.tool_name, allow=allowed,
                            message=message, by_rule=why)

        def change(run: Run) -> None:
            run.decisions.append(decision)
            grant = grant_for(run.granted, request)
            if grant is not None:
                run.granted.remove(grant)

        await self.runs._update(live, change)
        live.recorder.emit("decision", f"{'allowed' if allowed else 'denied'} {headline(request)} — by {why}",
                           {"requestId": request.request_id, "allow": allowed, "byRule": why})

    async def on_withdrawn(self, live: LiveRun, outcome: Outcome) -> None:
        """The agent took its request back (its turn was interrupted): the window's card goes away."""
        def change(run: Run) -> None:
            if run.pending_request is not None and run.pending_request.request_id == outcome.withdrawn:
                run.pending_request = None
                run.pending_question = None
                if run.status == TaskState.AWAITING_RESPONSE:
                    run.status = TaskState.RUNNING

        if live.pending is not None and live.pending.request_id == outcome.withdrawn:
            live.pending = None
        await self.runs._update(live, change)
        live.paused.clear()

    # -- the user decides -------------------------------------------------------------------------

    async def decide(self, project: Project, run_id: str, allow: bool, *, always: str | None = None,
                     rule: str | None = None, message: str | None = None, answers: dict[str, str] | None = None,
                     free_text: str | None = None, accept_edits: bool = False) -> Run:
        """Allow or deny what the run waits for (a question is allowed with its answers)."""
        here = self.runs.live.get(run_id)
        if here is not None and here.execution is not None and here.execution.alive:
            # its agent is followed here: what it waits on is known here before the file says so
            run = here.snapshot or self.runs.get(project, run_id)
            request = here.pending
            if request is None and run.pending_request is not None and run.pending_request.request_id in here.claimed:
                raise NoRequestError(f"run {run_id} no longer waits for that decision (another came first)")
        else:
            run = self.runs.get(project, run_id)
            request = run.pending_request
        if request is None:
            raise NoRequestError(f"run {run_id} is {run.status.value} and waits for no decision"
                                 + (" (it asks a question: answer it with 'pmdesk respond')"
                                    if run.pending_question else ""))
        if always is not None and always not in ALWAYS:
            raise BadInputError(f"'{always}' is not a scope for allow always; use one of: {', '.join(ALWAYS)}")
        if always is not None and (request.kind != RequestKind.PERMISSION or not allow):
            raise BadInputError("only an allowed tool can be allowed always")
        kept = parse_rules([rule or request.suggested_rule or suggest_rule(request)])[0] if always else None
        redact = self.ctx.redactor.text
        decision = Decision(request_id=request.request_id, tool_name=request.tool_name, allow=allow,
                            message=redact(message) if message else None, always=always, rule=kept,
                            answers={k: redact(v) for k, v in answers.items()} if answers else None,
                            accept_edits=accept_edits)
        if request.kind == RequestKind.QUESTION and allow and not (answers or free_text):
            raise BadInputError("the question needs an answer: choose an option or write one")
        verdict = Verdict(allow=allow, message=decision.message, keep_rule=kept, accept_edits=accept_edits,
                          updated_input=answers_input(request, answers, free_text and redact(free_text))
                          if request.kind == RequestKind.QUESTION else None)
        live = await self.runs.held(project, run)
        alive = live.execution is not None and live.execution.alive
        if kept and live.policy is not None:  # before the agent goes on: its next request may need it
            live.policy = live.policy.with_allowed(kept)
        if accept_edits and live.policy is not None:
            live.policy = dataclasses.replace(live.policy, mode=PermissionMode.ACCEPT_EDITS)
        if alive:  # the agent hears first, then the record follows: the round trip is the user's wait
            assert live.execution is not None
            if request.request_id in live.claimed:
                raise NoRequestError(f"run {run_id} no longer waits for that decision (another came first)")
            live.claimed.add(request.request_id)
            try:
                await live.execution.decide(request.request_id, verdict)
            except ExecutorError as exc:
                raise NoRequestError(f"run {run_id} no longer waits for that decision ({exc})") from None
            live.paused.clear()
            live.pending = None

        def change(r: Run) -> None:
            if r.pending_request is None or r.pending_request.request_id != request.request_id:
                raise IllegalTransitionError("task", r.status.value, TaskState.RUNNING.value)
            check_task_transition(r.status, TaskState.RUNNING)
            r.status = TaskState.RUNNING
            r.pending_request = None
            r.pending_question = None
            r.decisions.append(decision)
            if request.kind == RequestKind.QUESTION:  # the spec's record of questions and answers
                given = "; ".join((answers or {}).values()) or free_text or decision.message or ""
                r.clarifications.append(Clarification(question=headline(request), asked_at=request.asked_at,
                                                      response=redact(given), responded_at=decision.decided_at))
            r.owner_pid = os.getpid()
            if always == "run" and kept and kept not in r.allow_rules:
                r.allow_rules.append(kept)
            if allow and not alive and request.kind == RequestKind.PERMISSION:
                r.granted.append(request)

        try:
            run = await self.runs._update(live, change)
        except IllegalTransitionError:
            if alive:  # told already; the record moved on meanwhile (the agent withdrew it)
                return self.runs.get(project, run_id)
            self.runs.let_go(live)
            raise NoRequestError(f"run {run_id} no longer waits for that decision (another came first, or the "
                                 "agent withdrew it)") from None
        if always == "project" and kept:
            self._keep_for_project(project, kept)
        live.paused.clear()
        said = _decision_text(request, decision, free_text)
        live.recorder.emit("answer" if request.kind == RequestKind.QUESTION else "decision", said, {"requestId": request.request_id, "allow": allow, "always": always,
                                               "rule": kept})
        self.ctx.record(project, ActivityType.RUN_PERMISSION_DECIDED,
                        (f"answered: {said}" if request.kind == RequestKind.QUESTION else said)[:160], run_id=run_id, plan_id=run.plan_id,
                        task_id=run.plan_task_id, data={"allow": allow, "always": always, "rule": kept})
        if alive:
            return run
        words = told_after_restart(request, decision.model_copy(update={"message": decision.message or free_text}))
        return await self.runs.go_on(live, run, words)

    async def answer_in_words(self, project: Project, run_id: str, request: ToolRequest, text: str) -> Run:
        """``respond`` on a waiting request: a question's free answer, or a denial with a reason."""
        if request.kind == RequestKind.QUESTION:
            return await self.decide(project, run_id, True, free_text=text)
        return await self.decide(project, run_id, False, message=text)

    def _keep_for_project(self, project: Project, rule: str) -> None:
        project = self.ctx.project_settings(project)
        if rule in project.settings.allow_rules:
            return
        project.settings.allow_rules = [*project.settings.allow_rules, rule]
        self.ctx.store(project).put_project(project)
        for other in self.runs.live.values():  # the project's other live runs follow it at once
            if other.project.project_id == project.project_id and other.policy is not None:
                other.policy = other.policy.with_allowed(rule)
        self.ctx.record(project, ActivityType.PERMISSION_MODE_CHANGED, f"allowed always in this project: {rule}",
                        data={"allowRule": rule})

    # -- interrupting and steering -----------------------------------------------------------------

    async def interrupt(self, project: Project, run_id: str) -> Run:
        """Stop the agent's current turn; the run then waits for the user's next message."""
        run = self.runs.get(project, run_id)
        if run.status not in (TaskState.RUNNING, TaskState.AWAITING_RESPONSE):
            raise WrongStateError(f"run {run_id} is {run.status.value}; only a working agent can be interrupted")
        live = self.runs.live.get(run_id)
        if live is None and run.owner_pid not in (None, os.getpid()) and pid_alive(run.owner_pid or 0):
            raise NotHeldHereError(f"run {run_id} is held by pmdesk pid {run.owner_pid}")
        if live is None or live.execution is None or not live.execution.alive:
            if run.pending_request is None:
                raise NotHeldHereError(f"run {run_id} is not working in this process; nothing to interrupt")

            def drop(r: Run) -> None:  # its process is gone: the request is dropped, the run waits for words
                r.pending_request = None
                r.pending_question = Clarification(question="You interrupted the agent. Tell it what to do next.")

            run = await self.ctx.disk(self.ctx.store(project).update_run, run_id, drop)
            self.ctx.publish_run(project, run)
        else:
            await live.execution.interrupt()
            live.recorder.emit("system", "interrupted by the user: the agent stops its turn and waits")
        self.ctx.record(project, ActivityType.RUN_STOPPED, "interrupted: waiting for the next message", run_id=run_id,
                        plan_id=run.plan_id, task_id=run.plan_task_id)
        return self.runs.get(project, run_id)

    async def message(self, project: Project, run_id: str, text: str) -> Run:
        """A message to an agent at work: it reaches the running turn where the agent allows it."""
        live = self.runs.live.get(run_id)
        if live is None or live.execution is None or not live.execution.alive:
            raise NotHeldHereError(f"run {run_id} is not working in this process; nothing to send the message to")
        if not live.execution.steerable:
            raise WrongStateError(f"this agent ({live.executor.name}) cannot take a message while it works; "
                                  "interrupt it or wait until it asks")
        said = self.ctx.redactor.text(text)
        await live.execution.send(said)
        live.recorder.emit("answer", said, {"midTurn": True})
        live.recorder.flush()
        run = self.runs.get(project, run_id)
        self.ctx.record(project, ActivityType.RUN_MESSAGED, f"message while working: {said[:120]}", run_id=run_id,
                        plan_id=run.plan_id, task_id=run.plan_task_id)
        return run


def _decision_text(request: ToolRequest, decision: Decision, free_text: str | None) -> str:
    if request.kind == RequestKind.QUESTION:
        given = "; ".join(f"{a}" for a in (decision.answers or {}).values()) or free_text or ""
        return given if decision.allow else f"declined to answer: {decision.message or ''}"
    if request.kind == RequestKind.PLAN_APPROVAL:
        if decision.allow:
            return "approved the plan" + (" and accepted edits from now on" if decision.accept_edits else "")
        return f"asked to keep planning: {decision.message or ''}"
    verb = "allowed" if decision.allow else "denied"
    scope = f" always ({decision.always}: {decision.rule})" if decision.always else ""
    reason = f" — {decision.message}" if decision.message and not decision.allow else ""
    return f"{verb}{scope}: {headline(request)}{reason}"
