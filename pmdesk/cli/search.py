"""`pmdesk search`: one search over every project's runs and plans, newest first."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from pmdesk.cli.errors import EXIT_OK, CliError
from pmdesk.cli.output import next_page, print_json
from pmdesk.cli.session import open_engine
from pmdesk.engine.search import SearchHit
from pmdesk.errors import ErrorKind
from pmdesk.models import size_text

BOLD, PLAIN = "\033[1m", "\033[0m"


def marked(hit: SearchHit, colour: bool) -> str:
    """The hit's text with its terms in bold (on a terminal) or [between brackets]."""
    start, end = (BOLD, PLAIN) if colour else ("[", "]")
    out, at = [], 0
    for a, b in hit.spans:
        out += [hit.text[at:a], start, hit.text[a:b], end]
        at = b
    out.append(hit.text[at:])
    return "".join(out)


def where(hit: SearchHit) -> str:
    if hit.run_id:
        return f"{hit.run_id}" + (f" #{hit.seq}" if hit.seq else "")
    return f"{hit.plan_id} {hit.task_id}"


def cmd_search(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project) if args.project else None
    if args.reindex:
        done = asyncio.run(engine.reindex(project))
        if args.json:
            print_json(done)
            return EXIT_OK
        for r in done:
            print(f"{r.project_name}: {r.rows} lines of {r.runs} runs indexed in {r.seconds:.1f} s "
                  f"({size_text(r.bytes)})")
        if not args.query:
            return EXIT_OK
    if not args.query:
        raise CliError("give a query (words, a \"phrase\", a prefix*), or --reindex", kind=ErrorKind.BAD_REQUEST)
    words = " ".join(args.query)
    result = asyncio.run(engine.search(words, project, args.kind, args.since, args.limit, args.after))
    command = "search " + shlex.join(args.query) + (f" --project {args.project}" if args.project else "") + \
        "".join(f" --kind {k}" for k in args.kind or ()) + (f" --since {args.since}" if args.since else "")
    if args.json:
        print_json(result)
        next_page(command, result.next, args.limit, 50, len(result.hits))
        return EXIT_OK
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    colour = sys.stdout.isatty()
    for hit in result.hits:
        print(f"{hit.ts[:16].replace('T', ' ')}  {hit.project_name}  {hit.kind:<9}  {where(hit)}")
        print(f"    {marked(hit, colour)}")
    print(f"{len(result.hits)} hit{'s' if len(result.hits) != 1 else ''} in {result.took_ms:.0f} ms", file=sys.stderr)
    next_page(command, result.next, args.limit, 50, len(result.hits))
    return EXIT_OK
