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
from tests.api.conftest import Server, poll
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


def _every_page(client: object, path: str) -> tuple[list[dict[str, object]], int]:
    """Follow the Link headers from ``path``: every item once, and how many pages it took."""
    items: list[dict[str, object]] = []
    pages = 0
    next_path: str | None = path
    while next_path:
        answer = client.get(next_path)  # type: ignore[attr-defined]
        assert answer.status == 200, answer.body
        body = answer.body["hits"] if isinstance(answer.body, dict) else answer.body
        items += body
        pages += 1
        next_path = next_link(answer.headers)
    return items, pages


def test_plans_packets_activity_and_search_hits_come_in_pages(engine: Engine, tmp_path: Path, server: Server) -> None:
    from pmdesk.models import ActivityType, InspectionPacket, new_id

    project = add_project(engine, tmp_path / "p")
    store = engine.store(project)
    plans = [engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": f"refactor parser {i}"}]})
             for i in range(23)]
    run_id = engine.runs.create(project, "the run packets came from", executor=ExecutorKind.COMMAND,
                                command="true").run_id
    packets = [store.put_packet(InspectionPacket(packet_id=new_id("pkt"), project_id=project.project_id,
                                                 run_id=run_id, task={"prompt": f"p{i}"})) for i in range(12)]
    for i in range(31):
        engine.ctx.record(project, ActivityType.PROJECT_ADDED, f"note {i}")
    pid = project.project_id
    client = server.client

    listed, pages = _every_page(client, f"/api/projects/{pid}/plans?limit=5")
    assert pages == 5 and sorted(p["planId"] for p in listed) == sorted(p.plan_id for p in plans)
    assert [p["createdAt"] for p in listed] == sorted((p["createdAt"] for p in listed), reverse=True)
    assert client.get(f"/api/projects/{pid}/plans?limit=5").headers["x-total-count"] == "23"
    oldest = client.get(f"/api/projects/{pid}/plans?order=oldest&limit=1").body
    assert oldest[0]["planId"] == min(plans, key=lambda p: (p.created_at, p.plan_id)).plan_id

    listed, pages = _every_page(client, f"/api/projects/{pid}/packets?limit=5")
    assert pages == 3 and sorted(p["packetId"] for p in listed) == sorted(p.packet_id for p in packets)

    trail = [a.activity_id for a in store.list_activity(5000)]
    listed, pages = _every_page(client, f"/api/projects/{pid}/activity?limit=7")
    assert sorted(a["activityId"] for a in listed) == sorted(trail) and pages == -(-len(trail) // 7)
    assert [a["ts"] for a in listed] == sorted((a["ts"] for a in listed), reverse=True)

    poll(lambda: len(client.get("/api/search?q=refactor").body["hits"]) == 23)  # the server's indexer follows
    hits, pages = _every_page(client, "/api/search?q=refactor&limit=4")
    assert pages == 6 and len({(h["planId"], h["taskId"]) for h in hits}) == len(hits) == 23

    # The command line: the same pages, and where the next begins.
    first = run_cli("plans", "p", "--limit", "20", "--json")
    cursor = first.stderr.split("--after ")[1].split()[0]
    rest = run_cli("plans", "p", "--limit", "20", "--after", cursor, "--json")
    assert [p["planId"] for p in json.loads(first.stdout) + json.loads(rest.stdout)] == \
        [p["planId"] for p in _every_page(client, f"/api/projects/{pid}/plans")[0]]
    activity = run_cli("activity", "p", "--limit", "10")
    assert activity.returncode == 0 and "10 shown; next page: pmdesk activity p --after " in activity.stderr
    packets_cli = run_cli("packets", "p", "--limit", "50", "--json")
    assert len(json.loads(packets_cli.stdout)) == 12 and "next page" not in packets_cli.stderr
    found = run_cli("search", "refactor", "--limit", "20", "--json")
    cursor = found.stderr.split("--after ")[1].split()[0]
    more = run_cli("search", "refactor", "--limit", "20", "--after", cursor, "--json")
    both = json.loads(found.stdout)["hits"] + json.loads(more.stdout)["hits"]
    assert len({(h["planId"], h["taskId"]) for h in both}) == 23
    assert client.get(f"/api/projects/{pid}/activity?after=nonsense!").status == 400
    assert client.get("/api/search?q=refactor&after=bm9wZQ").status == 400
