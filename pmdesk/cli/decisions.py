"""`pmdesk approve`, `deny` and `interrupt`: the user's hand on a working agent, from a terminal.

When another pmdesk process holds the run (the window, a foreground `pmdesk run --hold`), the
decision is carried out there, in the agent's same turn; otherwise it resumes the agent's session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from pmdesk.cli.errors import EXIT_BAD_INPUT, EXIT_OK
from pmdesk.cli.follow import in_foreground
from pmdesk.cli.output import print_json
from pmdesk.cli.session import open_engine, project_of
from pmdesk.errors import BadInputError
from pmdesk.models import Run


def _answers(args: argparse.Namespace) -> dict[str, str] | None:
    if not getattr(args, "answer", None):
        return None
    answers: dict[str, str] = {}
    for item in args.answer:
        question, sep, label = item.partition("=")
        if not sep:
            raise BadInputError(f"--answer takes QUESTION=LABEL (labels of a multi-select joined by commas), "
                                f"not {item!r}")
        answers[question.strip()] = label.strip()
    return answers


def _decide(args: argparse.Namespace, allow: bool) -> int:
    engine = open_engine()
    project = project_of(engine, "run", args.run)
    choices: dict[str, object] = {}
    if allow:
        choices.update(always=args.always, rule=args.rule, accept_edits=args.accept_edits)
        answers = _answers(args)
        if answers:
            choices["answers"] = answers
        if args.text:
            choices["free_text"] = args.text
    else:
        choices["message"] = " ".join(args.message) if args.message else None
    choices = {k: v for k, v in choices.items() if v not in (None, False)}

    async def main() -> int:
        engine.recover()

        async def begin() -> Run:
            return await engine.decide(project, args.run, allow, **choices)

        if args.no_follow:
            run = await begin()
            print_json(run) if args.json else print(f"run {run.run_id} {run.status.value}")
            return EXIT_OK
        return await in_foreground(engine, project, args.run, args.json, begin)

    return asyncio.run(main())


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, True)


def cmd_deny(args: argparse.Namespace) -> int:
    return _decide(args, False)


def cmd_interrupt(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "run", args.run)

    async def main() -> int:
        run = await engine.interrupt(project, args.run)
        print_json(run) if args.json else print(f"run {run.run_id} interrupted: it waits for your next message "
                                                f"(pmdesk respond {run.run_id} \"...\")")
        return EXIT_OK

    return asyncio.run(main())


def cmd_pending(args: argparse.Namespace) -> int:
    """What the run waits for, in full: the command, the diff, the question's options, the plan."""
    engine = open_engine()
    project = project_of(engine, "run", args.run)
    run = engine.store(project).get_run(args.run)
    request = run.pending_request
    if args.json:
        print_json(request.to_json_dict() if request else None)
        return EXIT_OK
    if request is None:
        print(f"run {run.run_id} is {run.status.value} and waits for no decision", file=sys.stderr)
        return EXIT_BAD_INPUT
    from pmdesk.engine.permissions import headline, questions_of

    print(headline(request))
    if request.preview:
        print(request.preview)
    for question in questions_of(request):
        options = [str(o.get("label")) for o in question.get("options") or [] if isinstance(o, dict)]
        kind = "choose any of" if question.get("multiSelect") else "choose one of"
        print(f"  {question.get('header') or 'Question'}: {question.get('question')}\n    {kind}: "
              + ", ".join(options))
    print(f"\ninput: {json.dumps(request.input, ensure_ascii=False)[:2000]}")
    return EXIT_OK
