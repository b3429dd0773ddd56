"""The engine a command works on, and finding the project that holds a record."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from pmdesk.cli.errors import CliError
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Project
from pmdesk.store import NotFoundError

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine


def open_engine(role: str = "cli") -> Engine:
    from pmdesk.engine.engine import Engine  # here, not above: `pmdesk --version` needs no engine

    engine = Engine(role=role)
    with contextlib.suppress(PmdeskError):
        engine.projects()  # reads the registry, so that its damage is known before the command
    for problem in engine.problems():
        print(f"pmdesk: warning: {problem}", file=sys.stderr)
    return engine


def project_of(engine: Engine, kind: str, item_id: str) -> Project:
    """The registered project whose state directory holds this run, plan or packet."""
    try:
        return engine.locate(kind, item_id)
    except NotFoundError:
        raise CliError(f"no {kind} {item_id} in any registered project", kind=ErrorKind.NOT_FOUND) from None
