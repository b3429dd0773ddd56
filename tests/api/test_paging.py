"""Pages, never whole lists: a project's runs paged by cursor in the API and the CLI, each run
seen exactly once while new ones are written, with the same filters and orders everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.listing import RunFilter, page_runs, parse_filter
from pmdesk.errors import BadQueryError
from pmdesk.models import ExecutorKind, Project, TaskState
from tests.api.conftest import Server
from tests.conftest import run_cli
from tests.engine.helpers import add_project


def make_runs(engine: Engine, project: Project, n: int, start: int = 0) -> list[str]:
    made = []
    for i in range(start, start + n):
        run = engine.runs.create(project, f"task number {i} " + ("about the parser" if i % 3 == 0 else "elsewhere"),
                                 executor=ExecutorKind.COMMAND, command="true")
        if i % 4 == 0:
            engine.store(project).update_run(run.run_id, lambda r: setattr(r, "status", TaskState.QUEUED))
        made.append(run.run_id)
    return made


def next_link(headers: dict[str, str]) -> str | None:
    found = re.match(r'<([^>]+)>; rel="next"', headers.get("link", ""))
    return found.group(1) if found else None


def test_every_run_once_across_pages_while_runs_are_written(engine: Engine, tmp_path: Path, server: Server) -> None:
    project = add_project(engine, tmp_path / "p")
    first = set(make_runs(engine, project, 230))
    client = server.client
    seen: list[str] = []
    path: str | None = f"/api/projects/{project.project_id}/runs?limit=50"
    pages = 0
    while path:
        answer = client.get(path)
        assert answer.status == 200, answer.body
        seen += [r["runId"] for r in answer.body]
        pages += 1
        if pages == 2:
            make_runs(engine, project, 7, start=1000)  # written while the user pages
        path = next_link(answer.headers)
    assert len(seen) == len(set(seen))  # never one twice
    assert first <= set(seen)  # every run that was there when paging began
    assert pages == 5 and client.get(f"/api/projects/{project.project_id}/runs").headers["x-total-count"] == "237"
    assert len(client.get(f"/api/projects/{project.project_id}/runs").body) == 200  # a default page, not all

    # Oldest first, filtered: the same runs as the engine's own paging and the command line's.
    query = "status=QUEUED&executor=command&q=PARSER&order=oldest&limit=500"
    over_http = [r["runId"] for r in client.get(f"/api/projects/{project.project_id}/runs?{query}").body]
    wanted = parse_filter("queued", "command", None, "parser")
    direct = [r.run_id for r in page_runs(engine.store(project).list_runs(), wanted, "oldest", None, 500).items]
    cli = run_cli("runs", "p", "--status", "QUEUED", "--executor", "command", "--text", "parser", "--order", "oldest",
                  "--limit", "500", "--json")
    assert over_http == direct == [r["runId"] for r in json.loads(cli.stdout)] and len(direct) == 20  # i % 12 == 0
    created = [r.created_at for r in engine.store(project).list_runs() if r.run_id in set(direct)]
    assert sorted(created) == [next(r.created_at for r in engine.store(project).list_runs() if r.run_id == i)
                               for i in direct]

    # The command line pages too, and says how to get the next page.
    listed = run_cli("runs", "p", "--limit", "10")
    assert listed.returncode == 0 and "10 of 237; next page: pmdesk runs p --after " in listed.stderr
    cursor = listed.stderr.split("--after ")[1].split()[0]
    again = run_cli("runs", "p", "--limit", "10", "--after", cursor, "--json")
    assert len(json.loads(again.stdout)) == 10

    # Refusals name what is valid.
    assert client.get(f"/api/projects/{project.project_id}/runs?after=garbage!").status == 400
    bad = client.get(f"/api/projects/{project.project_id}/runs?status=SLEEPING")
    assert bad.status == 400 and "choose from" in bad.body["error"]["message"]
    assert client.get(f"/api/projects/{project.project_id}/runs?order=random").status == 400
    with pytest.raises(BadQueryError, match="not a cursor"):
        page_runs([], RunFilter(), "newest", "e30")
