"""Letters between pmdesk processes: only a fresh letter from a live process is carried out; one
that came with the project's files, a stale one, or one with options pmdesk never sends is refused
with a reply that says why, and nothing is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pmdesk.engine import inbox
from pmdesk.engine.engine import Engine
from pmdesk.models import utc_now
from tests.engine.helpers import add_project


def write_letter(state_dir: Path, **fields: Any) -> Path:
    letter = {"letterId": "letter_" + "0" * 8 + "-0000-4000-8000-000000000000", "runId": "run_x", "action": "launch",
              "args": {}, "senderPid": os.getpid(), "sentAt": utc_now(), **fields}
    path = inbox.inbox_of(state_dir) / f"{letter['letterId']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(letter))
    return path


def reply_of(state_dir: Path) -> dict[str, Any]:
    [found] = list(inbox.inbox_of(state_dir).glob("*.reply"))
    return json.loads(found.read_text())


async def test_stale_foreign_and_odd_letters_are_refused(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    state = engine.store(project).state_dir
    done: list[Any] = []

    async def handle(letter: inbox.Letter) -> None:
        done.append(letter)

    write_letter(state, sentAt="2020-01-01T00:00:00.000Z")  # committed with the project, say
    await inbox.deliver(state, handle)
    assert done == [] and "not from a command waiting" in reply_of(state)["error"]
    for reply in inbox.inbox_of(state).glob("*.reply"):
        reply.unlink()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_letter(state, senderPid=int(gone.stdout))
    await inbox.deliver(state, handle)
    assert done == [] and "sender is gone" in reply_of(state)["error"]
    for reply in inbox.inbox_of(state).glob("*.reply"):
        reply.unlink()

    write_letter(state, runId=project.project_id, args={"prompt": "x", "rm": "-rf"})
    await inbox.deliver(state, engine._carry_out)
    answered = reply_of(state)
    assert not answered["ok"] and "options pmdesk does not send" in answered["error"]
    assert engine.store(project).list_runs() == []  # nothing was started

    for reply in inbox.inbox_of(state).glob("*.reply"):
        reply.unlink()
    write_letter(state, action="verify", runId="plan_x", args={})
    await inbox.deliver(state, handle)
    assert len(done) == 1 and reply_of(state)["ok"]  # a fresh letter from a live sender is carried out
