"""Exit codes: 0 done, 1 the operation ran (or could not run) and failed, 2 bad input.

The one place an error becomes an exit code: by its kind, never by its text.
"""

from __future__ import annotations

from pmdesk.errors import ErrorKind, PmdeskError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.BAD_REQUEST: EXIT_BAD_INPUT,
    ErrorKind.BAD_INPUT: EXIT_BAD_INPUT,
    ErrorKind.NOT_FOUND: EXIT_BAD_INPUT,
    ErrorKind.WRONG_STATE: EXIT_BAD_INPUT,
    ErrorKind.CONFLICT: EXIT_BAD_INPUT,
    ErrorKind.BUSY: EXIT_BAD_INPUT,
    ErrorKind.NOT_CONFIGURED: EXIT_FAILED,
    ErrorKind.DAMAGED: EXIT_FAILED,
    ErrorKind.FAILED: EXIT_FAILED,
}


class CliError(PmdeskError):
    """A refusal of the command line itself (a missing option, an unreadable file)."""


def exit_code(error: PmdeskError) -> int:
    return EXIT_BY_KIND[error.kind]
