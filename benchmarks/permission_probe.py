"""Issue 16: a permission request's round trip through pmdesk's window, against a bare reader.

An asking agent (a small stream-json CLI speaking the control protocol) writes N ``can_use_tool``
requests one after another, stamping each with the time it wrote it, and stamps the time each
answer reached it. Two legs are timed:

  asked:    the agent writes the request → the request card is painted in the window (and,
            as ``filled``, → the card holds it, before the paint)
            (bare: → a reader on the agent's stdout has parsed it)
  answered: Allow is clicked → the agent has read the answer
            (bare: the reader writes the answer → the agent has read it)

    python benchmarks/permission_probe.py window N     one JSON line
    python benchmarks/permission_probe.py bare N
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GAP = 0.15  # seconds between an answer and the next request: a frame or two, far less than a real model

ASKER = r'''
import json, sys, time
n = int(sys.argv[1]); log = open(sys.argv[2], "w"); GAP = float(sys.argv[3])
def out(o):
    sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
out({"type": "system", "subtype": "init", "session_id": "bench-session", "model": "bench",
     "claude_code_version": "2.1.197"})
line = sys.stdin.readline()  # the prompt
for i in range(n):
    time.sleep(GAP)  # the tool runs and the model thinks between two requests (really: seconds)
    rid = f"req-{i}"
    out({"type": "assistant", "session_id": "bench-session", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": f"toolu_{i}", "name": "Bash", "input": {"command": f"echo {i}"}}]}})
    wrote = time.time()
    out({"type": "control_request", "request_id": rid, "request": {"subtype": "can_use_tool", "tool_name": "Bash",
         "input": {"command": f"echo {i}", "description": "echo"}, "tool_use_id": f"toolu_{i}"}})
    while True:
        answer = json.loads(sys.stdin.readline())
        if answer.get("type") == "control_response" and answer["response"].get("request_id") == rid:
            break
    log.write(json.dumps({"i": i, "wrote": wrote, "received": time.time()}) + "\n"); log.flush()
out({"type": "result", "subtype": "success", "is_error": False, "result": "all answered",
     "session_id": "bench-session", "total_cost_usd": 0, "usage": {}})
sys.stdin.read()
'''


def _agent(folder: Path) -> Path:
    script = folder / "asker.py"
    script.write_text(ASKER)
    launcher = folder / "claude"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$N_REQUESTS\" \"$ASK_LOG\" {GAP}\n")
    launcher.chmod(0o755)
    return launcher


def _stamps(log: Path) -> list[dict[str, float]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def bare(n: int) -> dict[str, Any]:
    """The floor: read the agent's lines, answer each request the moment it is parsed."""
    folder = Path(tempfile.mkdtemp(prefix="pmdesk-ask-bare-"))
    launcher, log = _agent(folder), folder / "log.jsonl"
    seen: list[float] = []
    sent: list[float] = []

    async def main() -> None:
        process = await asyncio.create_subprocess_exec(
            str(launcher), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "N_REQUESTS": str(n), "ASK_LOG": str(log)})
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b'{"type":"user","message":{"role":"user","content":"go"}}\n')
        await process.stdin.drain()
        while True:
            line = await process.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            if message.get("type") == "control_request":
                seen.append(time.time())
                answer = {"type": "control_response", "response": {"subtype": "success", "request_id":
                          message["request_id"], "response": {"behavior": "allow", "updatedInput": {}}}}
                sent.append(time.time())
                process.stdin.write((json.dumps(answer) + "\n").encode())
                await process.stdin.drain()
            elif message.get("type") == "result":
                process.stdin.close()
        await process.wait()

    asyncio.run(main())
    return _legs(_stamps(log), seen, sent)


def window(n: int) -> dict[str, Any]:
    """pmdesk's window on its qasync loop: the run's card shows the request, Allow is clicked on it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = Path(tempfile.mkdtemp(prefix="pmdesk-ask-"))
    launcher, log = _agent(folder), folder / "log.jsonl"
    os.environ.update({"PMDESK_CLAUDE_BIN": str(launcher), "N_REQUESTS": str(n), "ASK_LOG": str(log)})
    from PySide6.QtCore import QEvent, QObject, QTimer

    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    engine = Engine(role="window")
    main_window, controllers = open_window(engine)
    main_window.show()
    project_dir = folder / "project"
    project_dir.mkdir()
    project = engine.add_project(str(project_dir), "asks")
    project.settings.claude_sandbox = False  # the asking agent is not Claude Code: no sandbox settings
    engine.save_project(project)
    page = main_window.project_page
    card = page.request_card
    filled: list[float] = []
    painted: list[float] = []
    clicked: list[float] = []
    shown_ids: set[str] = set()
    original = card.show_request
    waiting_paint = [False]
    expected: list[str | None] = [None]  # the request whose card is awaited: a paint of anything else does not count

    def show_request(run_id: str, request: Any) -> None:
        new = request is not None and request.request_id not in shown_ids
        if new:
            waiting_paint[0] = True  # the card may paint inside show_request (it does, at once)
            expected[0] = request.request_id
        original(run_id, request)
        if new and card.isVisible():
            shown_ids.add(request.request_id)
            filled.append(time.time())
        elif new:
            waiting_paint[0] = False

    def click() -> None:
        clicked.append(time.time())
        assert card.allow_button is not None
        card.allow_button.click()

    class Painted(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            holds = card.request is not None and card.request.request_id == expected[0]
            if event.type() == QEvent.Type.Paint and waiting_paint[0] and holds and card.isVisible():
                waiting_paint[0] = False
                painted.append(time.time())
                QTimer.singleShot(0, click)  # the user, who now sees it, clicks Allow
            return False

    spy = Painted()
    card.installEventFilter(spy)
    card.show_request = show_request  # type: ignore[method-assign]

    async def main() -> None:
        await controllers.start()
        controllers.projects.open_project(project.project_id)
        run = engine.runs.create(project, "ask a lot", executor=ExecutorKind.CLAUDE_CODE)
        await engine.runs.start(project, run.run_id)
        for _ in range(200):
            if page.runs.source.rowCount():
                break
            await asyncio.sleep(0.01)
        page.runs.selectRow(0)
        deadline = time.time() + 120
        while len(_stamps(log)) < n and time.time() < deadline:
            await asyncio.sleep(0.05)
        await engine.runs.wait(run.run_id)
        final = engine.store(project).get_run(run.run_id)
        if len(_stamps(log)) < n:
            trail = [e.text[:200] for e in engine.store(project).read_events(run.run_id)][-8:]
            print(json.dumps({"error": f"run {final.status.value}: {final.error}", "trail": trail}), file=sys.stderr)
        await engine.shutdown()

    with loop:
        loop.run_until_complete(main())
    legs = _legs(_stamps(log), painted, clicked)
    filled_legs = _legs(_stamps(log), filled, clicked)
    legs["filled_median"] = filled_legs["asked_median"]
    return legs


def _legs(stamps: list[dict[str, float]], seen: list[float], sent: list[float]) -> dict[str, Any]:
    count = min(len(stamps), len(seen), len(sent))
    asked = [seen[i] - stamps[i]["wrote"] for i in range(count)]
    answered = [stamps[i]["received"] - sent[i] for i in range(count)]
    return {"count": count,
            "asked_median": statistics.median(asked) if asked else None, "asked_max": max(asked, default=None),
            "answered_median": statistics.median(answered) if answered else None,
            "answered_max": max(answered, default=None)}


if __name__ == "__main__":
    kind, count = sys.argv[1], int(sys.argv[2])
    print(json.dumps(window(count) if kind == "window" else bare(count)), flush=True)
