"""Work for a project that another pmdesk process holds (the window, ``serve``, a foreground
``pmdesk run``): its agents and their pending requests live there, so a decision, an answer, a
new run, a dispatch or a verify asked for here is posted as a letter into the project's
state directory; the holder carries it out and leaves a reply beside it, which the sender waits for.

Letters are files the user's own processes write; a damaged or foreign one is removed with a
reply that says why, never acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Model, new_id, parse_ts, utc_now
from pmdesk.store.atomic import atomic_write_json
from pmdesk.store.safe_files import DamagedFileError, read_json

LETTER_LIMIT = 256 * 1024
POLL = 0.05  # how often the holder looks for letters, and the sender for the reply
WAIT = 20.0
FRESH_MARGIN_S = 10.0  # a letter older than the sender's wait (and a margin for clocks) is refused

Action = Literal["decide", "interrupt", "respond", "launch", "dispatch", "verify"]


class Letter(Model):
    letter_id: str
    run_id: str  # what the action is about: a run; a plan for dispatch and verify; the project for launch
    action: Action
    args: dict[str, Any] = {}
    sender_pid: int
    sent_at: str


class Reply(Model):
    letter_id: str
    ok: bool
    error: str | None = None
    kind: str | None = None
    result: dict[str, Any] | None = None  # what the use case answered (the launched run, a dispatch's runs)


class UndeliveredError(PmdeskError):
    kind = ErrorKind.BUSY
    code = "not_delivered"


def inbox_of(state_dir: Path) -> Path:
    return state_dir / "inbox"


async def post(state_dir: Path, run_id: str, action: Action, args: dict[str, Any],
               holder: str) -> dict[str, Any] | None:
    """Hand the decision to the holder and wait until it was carried out (or refused: its error
    is raised here as the same kind of error)."""
    inbox = inbox_of(state_dir)
    letter = Letter(letter_id=new_id("letter"), run_id=run_id, action=action, args=args,
                    sender_pid=os.getpid(), sent_at=utc_now())
    path = inbox / f"{letter.letter_id}.json"
    reply_path = inbox / f"{letter.letter_id}.reply"
    await asyncio.to_thread(_write, path, letter.to_json_dict())
    deadline = asyncio.get_running_loop().time() + WAIT
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(POLL)
        if reply_path.exists():
            reply = Reply.model_validate(await asyncio.to_thread(read_json, reply_path, LETTER_LIMIT))
            with contextlib.suppress(OSError):
                reply_path.unlink()
            if not reply.ok:
                raise PmdeskError(reply.error or "refused", kind=ErrorKind(reply.kind or ErrorKind.WRONG_STATE.value))
            return reply.result
    with contextlib.suppress(OSError):
        path.unlink()  # never carried out later, by surprise
    raise UndeliveredError(f"{holder} holds {run_id} but did not take the {action} within {WAIT:.0f} s; "
                           "nothing was changed")


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_json(path, data, mode=0o600, durable=False)


Handler = Callable[[Letter], Awaitable[dict[str, Any] | None]]


def letters(state_dir: Path) -> list[Path]:
    try:
        return sorted(p for p in inbox_of(state_dir).iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return []


def take(path: Path) -> Letter | Reply:
    """The letter at ``path``, removed from the inbox; a damaged one becomes the reply that says so.

    Only a fresh letter from a live process is carried out: a file that arrived with the
    project's files (committed, copied) or was left behind is refused, never acted on."""
    taken: Letter | Reply
    try:
        taken = Letter.model_validate(read_json(path, LETTER_LIMIT))
    except (DamagedFileError, ValidationError, OSError) as exc:
        reason = exc.reason if isinstance(exc, DamagedFileError) else "it is not a letter pmdesk wrote"
        taken = Reply(letter_id=path.stem, ok=False, error=f"the decision could not be read ({reason})",
                      kind=ErrorKind.DAMAGED.value)
    else:
        stale = _why_stale(taken)
        if stale:
            taken = Reply(letter_id=taken.letter_id, ok=False, error=f"the letter was not carried out: {stale}",
                          kind=ErrorKind.BAD_INPUT.value)
    with contextlib.suppress(OSError):
        path.unlink()
    return taken


def _why_stale(letter: Letter) -> str | None:
    sent = parse_ts(letter.sent_at)
    if sent is None or abs((datetime.now(UTC) - sent).total_seconds()) > WAIT + FRESH_MARGIN_S:
        return "it is not from a command waiting for it now"
    try:
        os.kill(letter.sender_pid, 0)
    except ProcessLookupError:
        return "its sender is gone"
    except PermissionError:
        return "its sender is another user's process"
    except (OSError, OverflowError):
        return "its sender is not a process"
    return None


def answer(state_dir: Path, reply: Reply) -> None:
    _write(inbox_of(state_dir) / f"{reply.letter_id}.reply", reply.to_json_dict())


async def deliver(state_dir: Path, handle: Handler) -> None:
    """Carry out the letters waiting in one project's inbox, replying to each.

    On the loop itself: looking into a small folder every POLL is a few microseconds, a letter is
    a few hundred bytes, and no thread is left to call back into a loop that has closed."""
    for path in letters(state_dir):
        taken = take(path)
        if isinstance(taken, Reply):
            answer(state_dir, taken)
            continue
        try:
            result = await handle(taken)
            reply = Reply(letter_id=taken.letter_id, ok=True, result=result)
        except PmdeskError as exc:
            reply = Reply(letter_id=taken.letter_id, ok=False, error=str(exc), kind=exc.kind.value)
        except Exception as exc:  # a bug must still be answered, or the sender waits for nothing
            reply = Reply(letter_id=taken.letter_id, ok=False, error=f"pmdesk failed: {exc!r}",
                          kind=ErrorKind.FAILED.value)
        answer(state_dir, reply)
