"""The `pmdesk` command: the window by default, the subcommands otherwise.

Nothing here imports the engine or Qt: the window's path reaches its first paint before the
engine's models are loaded (see ``ui.app``), and subcommands never load Qt.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args == ["--selftest"]:
        from pmdesk.ui.app import run_app

        return run_app(selftest=bool(args))
    from pmdesk.cli.parser import run_command

    return run_command(args)
