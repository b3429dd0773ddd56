"""Every engine action as a subcommand (`pmdesk project add`, `pmdesk run`, `pmdesk plan`...).

Exit codes: 0 done, 1 the operation ran and failed (a run ERROR, a plan FAILED), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pmdesk
from pmdesk.models import ExecutorKind, InvalidIdError, Plan, PlanStatus, Project, Run, TaskState, jsonable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _short(text: str | None, n: int = 60) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def _cost(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


# -- engine access ------------------------------------------------------------------------


def _engine(role: str = "cli") -> Any:
    from pmdesk.engine.engine import Engine

    return Engine(role=role)


def _find_project_of(engine: Any, kind: str, item_id: str) -> Project:
    """The registered project whose state directory holds this run/plan/packet."""
    from pmdesk.store import NotFoundError

    try:
        found: Project = engine.locate(kind, item_id)
    except NotFoundError:
        raise CliError(f"no {kind} {item_id} in any registered project") from None
    return found


# -- project commands ------------------------------------------------------------------------


def cmd_project(args: argparse.Namespace) -> int:
    engine = _engine()
    action = args.project_action
    if action == "add":
        project = engine.add_project(args.path, args.name)
        if args.json:
            _print_json(project)
        else:
            print(f"added {project.name} ({project.project_id}) at {project.path}")
        return EXIT_OK
    if action == "list":
        overviews = [engine.overview(p) for p in engine.projects()]
        if args.json:
            _print_json(overviews)
            return EXIT_OK
        if not overviews:
            print("no projects yet: add one with 'pmdesk project add PATH'")
            return EXIT_OK
        rows = [[o.name, o.project_id, o.status.value, str(o.total), str(o.completed), str(o.failed),
                 str(o.running), str(o.awaiting), _short(o.path, 50)] for o in overviews]
        print(_table(rows, ["NAME", "ID", "STATUS", "TOTAL", "DONE", "FAILED", "RUNNING", "AWAITING", "PATH"]))
        return EXIT_OK
    if action == "show":
        project = engine.project_settings(engine.project(args.project))
        ov = engine.overview(project)
        if args.json:
            _print_json({**ov.to_json_dict(), "settings": project.settings.to_json_dict()})
            return EXIT_OK
        print(f"{ov.name}  ({ov.project_id})\n  path:    {ov.path}\n  status:  {ov.status.value}")
        print(f"  runs:    {ov.total} total, {ov.completed} complete, {ov.failed} failed, "
              f"{ov.running} running, {ov.awaiting} awaiting a response")
        print(f"  plans:   {ov.plans}\n  last activity: {ov.last_activity or '—'}")
        s = project.settings
        print(f"  settings: concurrency {s.concurrency}, model {s.default_model or '(app default)'}, "
              f"executor {s.default_executor.value if s.default_executor else '(auto)'}, "
              f"gates {s.gates or '(from package.json)'}")
        if ov.problems:
            print(f"  problems: {ov.problems} state file(s) were unreadable and moved aside "
                  f"(see {Path(ov.path) / '.claude/state/quarantine'})")
        return EXIT_OK
    if action == "remove":
        project = engine.remove_project(args.project)
        if args.json:
            _print_json(project)
        else:
            print(f"removed {project.name} from pmdesk (its files are untouched)")
        return EXIT_OK
    if action == "set":
        project = engine.project_settings(engine.project(args.project))
        s = project.settings
        if args.concurrency is not None:
            s.concurrency = args.concurrency
        if args.model is not None:
            s.default_model = args.model or None
        if args.executor is not None:
            s.default_executor = ExecutorKind(args.executor) if args.executor else None
        if args.command is not None:
            s.command_template = args.command or None
        if args.gate is not None:
            s.gates = [g for g in args.gate if g.strip()] or None
        project.settings = s
        engine.save_project(project)
        _print_json(project) if args.json else print(f"saved settings of {project.name}")
        return EXIT_OK
    raise CliError("unknown project action")


# -- runs ---------------------------------------------------------------------------------------------


_KIND_PREFIX = {"stderr": "! ", "system": "· ", "assistant": "» ", "tool_use": "→ ", "tool_result": "← ",
                "question": "? ", "answer": "> ", "result": "= ", "gate": "  "}


def _follow_output(engine: Any, run_ids: set[str] | None, quiet: bool) -> Callable[[], None]:
    from pmdesk.engine.notifications import EventsAppended

    def on_change(change: Any) -> None:
        if quiet or not isinstance(change, EventsAppended):
            return
        if run_ids is not None and change.run_id not in run_ids:
            return
        out = sys.stdout
        for event in change.events:
            out.write(_KIND_PREFIX.get(event["kind"], "") + event["text"] + "\n")
        out.flush()

    unsubscribe: Callable[[], None] = engine.bus.subscribe(on_change, only=(EventsAppended,))
    return unsubscribe


def _run_exit(run: Run) -> int:
    return EXIT_FAILED if run.status in (TaskState.ERROR, TaskState.CANCELLED) else EXIT_OK


def _print_run_end(run: Run) -> None:
    if run.status == TaskState.AWAITING_RESPONSE and run.pending_question:
        print(f"\nrun {run.run_id} NEEDS RESPONSE: {run.pending_question.question}\n"
              f"answer with: pmdesk respond {run.run_id} \"...\"", file=sys.stderr)
    else:
        detail = run.error if run.status != TaskState.COMPLETE else (run.summary or "")
        print(f"\nrun {run.run_id} {run.status.value} · cost {_cost(run.cost_usd)}"
              + (f"\n{_short(detail, 400)}" if detail else ""), file=sys.stderr)


async def _with_interrupt(main: Awaitable[int], on_interrupt: Callable[[], Awaitable[None]]) -> int:
    """Ctrl-C or TERM ends the agents this command started (whole process groups)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    interrupted = asyncio.Event()
    pending: list[asyncio.Future[None]] = []

    def handler() -> None:
        if not interrupted.is_set():
            interrupted.set()
            print("\ninterrupted: cancelling…", file=sys.stderr)
            pending.append(asyncio.ensure_future(on_interrupt()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


async def _in_foreground(engine: Any, project: Project, run_id: str, args: argparse.Namespace,
                         begin: Callable[[], Awaitable[Run]]) -> int:
    """Start or continue a run, print its output until it ends or waits, Ctrl-C cancels it."""
    unsubscribe = _follow_output(engine, {run_id}, args.json)
    try:
        run = await begin()

        async def interrupt() -> None:
            await engine.runs.cancel(project, run_id)

        async def follow() -> int:
            await engine.runs.wait(run_id)
            if run.plan_id and engine.loop.continue_plan(project, run.plan_id):
                await _follow_plan(engine, project, run.plan_id)  # an answered plan task frees its slot
            return 0

        await _with_interrupt(follow(), interrupt)
    finally:
        unsubscribe()
    final = engine.store(project).get_run(run_id)
    await _detach(engine)
    _print_json(final) if args.json else _print_run_end(final)
    return _run_exit(final)


def cmd_run(args: argparse.Namespace) -> int:
    engine = _engine()
    project = engine.project(args.project)
    executor = ExecutorKind(args.executor) if args.executor else None

    async def main() -> int:
        engine.recover()
        engine.hold(project)  # owned by the window or `serve`: say so before writing anything
        try:
            run = engine.runs.create(project, args.prompt, executor=executor, model=args.model, command=args.command)
        finally:
            engine.release(project)
        if not args.json:
            print(f"run {run.run_id} ({run.executor.value}) in {project.name}", file=sys.stderr)
        code: int = await _in_foreground(engine, project, run.run_id, args,
                                         lambda: engine.runs.start(project, run.run_id))
        return code

    return asyncio.run(main())


async def _detach(engine: Any) -> None:
    """Leave awaiting runs answerable later ('pmdesk respond' resumes them) and exit."""
    await engine.runs.detach()
    await engine.shutdown()


def cmd_runs(args: argparse.Namespace) -> int:
    engine = _engine()
    project = engine.project(args.project)
    runs = sorted(engine.store(project).list_runs(), key=lambda r: r.created_at, reverse=True)
    if args.json:
        _print_json(runs)
        return EXIT_OK
    from pmdesk.engine.inspect import _duration_ms

    rows = []
    for r in runs[: args.limit]:
        ms = _duration_ms(r.started_at, r.ended_at)
        rows.append([r.run_id, r.status.value, r.executor.value, r.started_at or "—",
                     f"{ms / 1000:.1f}s" if ms is not None else "—", _cost(r.cost_usd), _short(r.prompt, 50)])
    print(_table(rows, ["RUN", "STATUS", "EXECUTOR", "STARTED", "DURATION", "COST", "PROMPT"]) if rows
          else f"no runs in {project.name} yet")
    return EXIT_OK


def cmd_respond(args: argparse.Namespace) -> int:
    engine = _engine()
    project = _find_project_of(engine, "run", args.run)

    async def main() -> int:
        engine.recover()
        code: int = await _in_foreground(engine, project, args.run, args,
                                         lambda: engine.runs.respond(project, args.run, args.text))
        return code

    return asyncio.run(main())


def cmd_cancel(args: argparse.Namespace) -> int:
    engine = _engine()
    target = args.target

    async def main() -> int:
        if target.startswith("plan_"):
            project = _find_project_of(engine, "plan", target)
            plan = await engine.loop.cancel(project, target)
            _print_json(plan) if args.json else print(f"plan {target} {plan.status.value}")
            return EXIT_OK
        project = _find_project_of(engine, "run", target)
        run = await engine.runs.cancel(project, target)
        _print_json(run) if args.json else print(f"run {target} {run.status.value}")
        return EXIT_OK

    return asyncio.run(main())


def cmd_inspect(args: argparse.Namespace) -> int:
    from pmdesk.engine.inspect import create_packet, packet_markdown

    engine = _engine()
    project = _find_project_of(engine, "run", args.run)
    packet = create_packet(engine, project, args.run)
    if args.json or args.format == "json":
        _print_json(packet)
    else:
        print(packet_markdown(packet))
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    engine = _engine()
    project = _find_project_of(engine, "run", args.run)
    events = engine.store(project).tail_events(args.run, args.lines)
    if args.json:
        _print_json(events)
    else:
        for e in events:
            print(_KIND_PREFIX.get(e.kind, "") + e.text)
    return EXIT_OK


# -- the loop ---------------------------------------------------------------------------------------


def _print_plan(plan: Plan) -> None:
    print(f"plan {plan.plan_id}  {plan.status.value}  ({len(plan.tasks)} tasks)")
    if plan.summary:
        print(f"  {plan.summary}")
    index = {t.task_id: i + 1 for i, t in enumerate(plan.tasks)}
    for i, t in enumerate(plan.tasks, 1):
        deps = ",".join(f"#{index.get(d, '?')}" for d in t.dependencies) or "-"
        print(f"  #{i:<2} p{t.priority:<3} {t.status.value:<18} deps {deps:<8} {_short(t.description, 70)}"
              + (f"\n       {t.run_id}" if t.run_id else "") + (f"\n       ! {t.error}" if t.error else ""))
    if plan.gate_result:
        print(f"  gates: {'PASSED' if plan.gate_result.passed else 'FAILED'}")
        for c in plan.gate_result.checks:
            mark = "SKIP" if c.skipped else ("PASS" if c.passed else "FAIL")
            dur = f" {c.duration} ms" if c.duration is not None else ""
            print(f"    [{mark}] {c.name}{dur}: {_short(c.message, 100)}")


def _plan_exit(plan: Plan) -> int:
    return EXIT_FAILED if plan.status in (PlanStatus.FAILED, PlanStatus.CANCELLED) else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    engine = _engine()
    project = engine.project(args.project)
    if args.from_file:
        try:
            raw = json.loads(Path(args.from_file).read_text())
        except OSError as exc:
            raise CliError(f"{args.from_file}: {exc.strerror}") from None
        except ValueError as exc:
            raw = f"invalid JSON: {exc}"  # validated below into a FAILED plan with the reason
        plan = engine.loop.plan_from_answer(project, raw, packet_id=args.packet)
    else:
        if not args.packet:
            raise CliError("give --packet PKT (from 'pmdesk inspect RUN') or --from-file TASKS.json")
        plan = asyncio.run(engine.loop.create_plan(project, args.packet, args.model))
    _print_json(plan) if args.json else _print_plan(plan)
    if plan.status == PlanStatus.FAILED and plan.gate_result and not args.json:
        print(f"\nplan generation failed: {plan.gate_result.checks[0].message}", file=sys.stderr)
    return _plan_exit(plan)


async def _follow_plan(engine: Any, project: Project, plan_id: str) -> None:
    """Until every task has ended, or the only ones left wait for an answer."""
    while plan_id in engine.loop.jobs and not engine.loop.all_settled(project, plan_id):
        job = engine.loop.jobs.get(plan_id)
        if job is None:
            break
        job.wake.clear()
        try:
            await asyncio.wait_for(asyncio.shield(job.task), 0.5)
        except TimeoutError:
            continue
    await asyncio.sleep(0)


def cmd_dispatch(args: argparse.Namespace) -> int:
    engine = _engine()
    project = _find_project_of(engine, "plan", args.plan)

    async def main() -> int:
        engine.recover()
        plan = engine.store(project).get_plan(args.plan)
        unsubscribe = _follow_output(engine, None, args.json or args.quiet)
        try:
            if plan.status == PlanStatus.RUNNING:
                if not engine.loop.continue_plan(project, args.plan, args.max_parallel):
                    raise CliError(f"plan {args.plan} has already run all its tasks; "
                                   f"verify it with 'pmdesk verify {args.plan}'")
                if not args.json:
                    print(f"continuing plan {args.plan}", file=sys.stderr)
            else:
                response = await engine.loop.dispatch(project, args.plan, parallel=not args.sequential,
                                                      max_parallel=args.max_parallel,
                                                      executor=ExecutorKind(args.executor) if args.executor else None,
                                                      command=args.command)
                if args.json and args.no_wait:
                    _print_json(response)
                if not args.json:
                    print(f"dispatched {len(response.runs)} runs of plan {args.plan}", file=sys.stderr)
            if args.no_wait:
                return EXIT_OK

            async def interrupt() -> None:
                await engine.loop.cancel(project, args.plan)

            async def follow() -> int:
                await _follow_plan(engine, project, args.plan)
                return 0

            await _with_interrupt(follow(), interrupt)
        finally:
            unsubscribe()
        final = engine.store(project).get_plan(args.plan)
        await _detach(engine)
        if args.json:
            _print_json(final)
        else:
            print()
            _print_plan(final)
            waiting = [t for t in final.tasks if t.status == TaskState.AWAITING_RESPONSE]
            for t in waiting:
                print(f"\n{t.run_id} NEEDS RESPONSE — answer with: pmdesk respond {t.run_id} \"...\"", file=sys.stderr)
        return _plan_exit(final)

    return asyncio.run(main())


def cmd_verify(args: argparse.Namespace) -> int:
    engine = _engine()
    project = _find_project_of(engine, "plan", args.plan)

    async def main() -> int:
        unsubscribe = _follow_output(engine, None, args.json or args.quiet)
        try:
            plan = await engine.loop.verify(project, args.plan, force=args.force)
        finally:
            unsubscribe()
        if args.json:
            _print_json(plan)
        else:
            print()
            _print_plan(plan)
        return _plan_exit(plan)

    return asyncio.run(main())


def cmd_show(args: argparse.Namespace) -> int:
    engine = _engine()
    project = _find_project_of(engine, "plan", args.plan)
    plan = engine.store(project).get_plan(args.plan)
    _print_json(plan) if args.json else _print_plan(plan)
    return EXIT_OK


def cmd_activity(args: argparse.Namespace) -> int:
    engine = _engine()
    project = engine.project(args.project)
    events = engine.store(project).list_activity(args.limit)
    if args.json:
        _print_json(events)
        return EXIT_OK
    for e in events:
        ids = " ".join(x for x in (e.plan_id, e.run_id) if x)
        print(f"{e.ts}  {e.type.value:<22} {e.actor:<8} {_short(e.message, 80)}  {ids}")
    if not events:
        print(f"no activity in {project.name} yet")
    return EXIT_OK


def cmd_plans(args: argparse.Namespace) -> int:
    engine = _engine()
    project = engine.project(args.project)
    plans = sorted(engine.store(project).list_plans(), key=lambda p: p.created_at, reverse=True)
    if args.json:
        _print_json(plans)
        return EXIT_OK
    rows = [[p.plan_id, p.status.value, f"{p.tasks_complete}/{p.task_count}", p.created_at, _short(p.summary, 50)]
            for p in plans]
    print(_table(rows, ["PLAN", "STATUS", "DONE", "CREATED", "SUMMARY"]) if rows else f"no plans in {project.name} yet")
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    from pmdesk.ui.app import run_app

    return run_app(selftest=getattr(args, "selftest", False))


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib

    try:
        server = importlib.import_module("pmdesk.api.server")
    except ImportError:
        raise CliError("the HTTP API is not built yet in this version", EXIT_FAILED) from None
    code: int = server.serve(args.host, args.port, allow_remote=args.allow_remote)
    return code


# -- parser ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmdesk", description="Run AI coding agents on your projects: "
                                     "Inspect → Plan → Dispatch → Verify → Record.")
    parser.add_argument("--version", action="version", version=f"pmdesk {pmdesk.__version__}")
    parser.add_argument("--selftest", action="store_true", help="start offscreen, exercise the app, exit 0 if it works")
    sub = parser.add_subparsers(dest="subcommand")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the same JSON the HTTP API returns")

    p = sub.add_parser("project", help="add, list, show, configure or remove projects")
    psub = p.add_subparsers(dest="project_action", required=True)
    a = psub.add_parser("add", parents=[common], help="register a local folder")
    a.add_argument("path")
    a.add_argument("--name")
    psub.add_parser("list", parents=[common], help="every project with its status")
    s = psub.add_parser("show", parents=[common])
    s.add_argument("project")
    r = psub.add_parser("remove", parents=[common], help="unregister (never deletes files)")
    r.add_argument("project")
    st = psub.add_parser("set", parents=[common], help="project settings")
    st.add_argument("project")
    st.add_argument("--concurrency", type=int)
    st.add_argument("--model")
    st.add_argument("--executor", choices=["", "claude_code", "anthropic_agent", "command"])
    st.add_argument("--command", help="command template for the command executor, e.g. 'aider --yes --message {prompt}'")
    st.add_argument("--gate", action="append", help="a gate command (repeat for several; '' clears)")
    p.set_defaults(func=cmd_project)

    r = sub.add_parser("run", parents=[common], help="start a run and follow it")
    r.add_argument("project")
    r.add_argument("prompt")
    r.add_argument("--executor", choices=["claude_code", "anthropic_agent", "command"])
    r.add_argument("--model")
    r.add_argument("--command", help="command template (for --executor command)")
    r.set_defaults(func=cmd_run)

    r = sub.add_parser("runs", parents=[common], help="list a project's runs")
    r.add_argument("project")
    r.add_argument("--limit", type=int, default=50)
    r.set_defaults(func=cmd_runs)

    r = sub.add_parser("log", parents=[common], help="the last lines of a run's log")
    r.add_argument("run")
    r.add_argument("--lines", type=int, default=200)
    r.set_defaults(func=cmd_log)

    r = sub.add_parser("respond", parents=[common], help="answer a run that needs a response")
    r.add_argument("run")
    r.add_argument("text")
    r.set_defaults(func=cmd_respond)

    r = sub.add_parser("cancel", parents=[common], help="cancel a run or a plan")
    r.add_argument("target", metavar="RUN|PLAN")
    r.set_defaults(func=cmd_cancel)

    r = sub.add_parser("inspect", parents=[common], help="create and print an Inspection Packet")
    r.add_argument("run")
    r.add_argument("--format", choices=["json", "md"], default="md")
    r.set_defaults(func=cmd_inspect)

    r = sub.add_parser("plan", parents=[common], help="create a plan from a packet (AI) or a file")
    r.add_argument("project")
    r.add_argument("--packet")
    r.add_argument("--model")
    r.add_argument("--from-file", help="tasks in the submit_plan format")
    r.set_defaults(func=cmd_plan)

    r = sub.add_parser("plans", parents=[common], help="list a project's plans")
    r.add_argument("project")
    r.set_defaults(func=cmd_plans)

    r = sub.add_parser("dispatch", parents=[common], help="run a DRAFT plan's tasks (or continue a RUNNING one)")
    r.add_argument("plan")
    r.add_argument("--sequential", action="store_true")
    r.add_argument("--max-parallel", type=int)
    r.add_argument("--executor", choices=["claude_code", "anthropic_agent", "command"])
    r.add_argument("--command", help="command template for the command executor")
    r.add_argument("--no-wait", action="store_true", help="return once the runs are created")
    r.add_argument("--quiet", action="store_true", help="do not print the runs' output")
    r.set_defaults(func=cmd_dispatch)

    r = sub.add_parser("verify", parents=[common], help="run gate:all on a plan")
    r.add_argument("plan")
    r.add_argument("--force", action="store_true", help="verify although some tasks did not complete")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_verify)

    r = sub.add_parser("show", parents=[common], help="a plan with its tasks and gate results")
    r.add_argument("plan")
    r.set_defaults(func=cmd_show)

    r = sub.add_parser("activity", parents=[common], help="the evidence trail, newest first")
    r.add_argument("project")
    r.add_argument("--limit", type=int, default=50)
    r.set_defaults(func=cmd_activity)

    r = sub.add_parser("serve", help="the local HTTP API, headless")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8765)
    r.add_argument("--allow-remote", action="store_true", help="allow binding to a non-loopback address (risky)")
    r.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.subcommand is None:
        return cmd_gui(args)
    return dispatch_command(args)


def dispatch_command(args: argparse.Namespace) -> int:
    from pmdesk.engine.gates import GateConfigError
    from pmdesk.engine.inspect import InspectError
    from pmdesk.engine.loop import PlanStateError
    from pmdesk.engine.planning import PlanGenerationError
    from pmdesk.engine.runs import RunError
    from pmdesk.executors.base import ExecutorError
    from pmdesk.store import ProjectBusyError, StoreError
    from pmdesk.store.registry import RegistryError

    try:
        code: int = args.func(args)
        return code
    except CliError as exc:
        print(f"pmdesk: {exc}", file=sys.stderr)
        return exc.code
    except (InvalidIdError, RegistryError, StoreError, RunError, InspectError, PlanGenerationError,
            GateConfigError) as exc:
        print(f"pmdesk: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (PlanStateError, ProjectBusyError) as exc:
        print(f"pmdesk: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ExecutorError as exc:
        print(f"pmdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
