"""Search over HTTP: `pmdesk serve` indexes what runs write and answers GET /api/search."""

from __future__ import annotations

import sys
from pathlib import Path

from pmdesk.engine.engine import Engine
from tests.api.conftest import Server, poll
from tests.engine.helpers import add_project


def test_search_over_http(engine: Engine, tmp_path: Path, server: Server) -> None:
    project = engine.project_settings(add_project(engine, tmp_path / "p"))
    project.settings.command_template = f"{sys.executable} -c \"print('a tapir in the output')\""
    engine.save_project(project)
    client = server.client
    made = client.post(f"/api/projects/{project.project_id}/runs", {"prompt": "find the tapir", "executor": "command"})
    assert made.status == 201, made.body
    run_id = made.body["runId"]

    def found() -> list[dict[str, object]] | None:
        hits = client.get("/api/search?q=tapir").body["hits"]
        return hits if len(hits) == 2 else None

    hits = poll(found)  # the server's indexer follows its runs
    assert {(h["kind"], h["runId"]) for h in hits} == {("prompt", run_id), ("output", run_id)}
    only = client.get(f"/api/search?q=tap*&kind=output&project={project.project_id}").body["hits"]
    assert [h["kind"] for h in only] == ["output"] and only[0]["spans"] == [[2, 7]]
    assert client.get("/api/search?q=").status == 400
    bad = client.get("/api/search?q=x&kind=nope")
    assert bad.status == 400 and "choose from" in bad.body["error"]["message"]
    assert client.get("/api/search?q=x&project=pidx_000000000000").status == 404
    assert client.get("/api/search?q=x&limit=0").status == 400
