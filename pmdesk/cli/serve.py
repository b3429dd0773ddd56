"""`pmdesk serve`: the local HTTP API, headless."""

from __future__ import annotations

import argparse


def cmd_serve(args: argparse.Namespace) -> int:
    from pmdesk.api.server import serve  # aiohttp loads only for this command

    code: int = serve(args.host, args.port, allow_remote=args.allow_remote)
    return code
