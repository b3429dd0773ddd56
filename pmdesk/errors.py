"""The one root of every error pmdesk raises on purpose, and the kinds clients map.

It sits below every layer (it imports nothing of pmdesk) because the models, the store,
the executors and the engine all raise errors of it. A client never looks at an error's
text to decide what it means: the CLI turns ``kind`` into an exit code and the API into a
status code, each in one table (``pmdesk.cli.errors``, ``pmdesk.api.errors``). ``code`` is
the stable word the API answers with (``{"error": {"code", "message"}}``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    BAD_REQUEST = "bad_request"  # malformed: an id that is not one, a body that is not JSON
    BAD_INPUT = "bad_input"  # well-formed but unacceptable: an empty prompt, a folder that is not one
    NOT_FOUND = "not_found"  # no such project, run, plan or packet
    WRONG_STATE = "wrong_state"  # the thing exists, but its state does not allow this now
    CONFLICT = "conflict"  # it exists already (a folder registered twice)
    BUSY = "busy"  # another pmdesk process owns the project's live work
    NOT_CONFIGURED = "not_configured"  # no agent, no key, no gates, a command template that does not parse
    DAMAGED = "damaged"  # a state file that cannot be read as what it should be (kept, reported)
    FAILED = "failed"  # the store could not read or write (disk full, permissions)


class PmdeskError(Exception):
    """A refusal or failure with a message written for the user."""

    kind: ClassVar[ErrorKind] = ErrorKind.BAD_INPUT
    code: ClassVar[str] = "bad_input"

    def __init__(self, message: str = "", *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind  # type: ignore[misc]  # one instance more precise than its class

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class WrongStateError(PmdeskError):
    """The object is not in a state that allows the action (HTTP 409)."""

    kind = ErrorKind.WRONG_STATE
    code = "wrong_state"


class BadInputError(PmdeskError):
    """Input that is well-formed but cannot be used (HTTP 422)."""

    kind = ErrorKind.BAD_INPUT
    code = "invalid_body"


class BadQueryError(PmdeskError):
    """A search or listing asked with words pmdesk cannot use (HTTP 400)."""

    kind = ErrorKind.BAD_REQUEST
    code = "invalid_query"
