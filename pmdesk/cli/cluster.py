"""`pmdesk cluster status`: a Ray cluster's nodes, free CPUs and pmdesk's runs working there."""

from __future__ import annotations

import argparse
import asyncio

from pmdesk import config
from pmdesk.cli.errors import EXIT_OK, CliError
from pmdesk.cli.output import print_json
from pmdesk.engine.cluster.connection import parse_address, status, status_text
from pmdesk.errors import ErrorKind


def cmd_cluster(args: argparse.Namespace) -> int:
    given = args.address or config.load_settings().cluster
    if not given:
        raise CliError("name the cluster (pmdesk cluster status ray://HOST:PORT) or choose one in Settings",
                       kind=ErrorKind.BAD_REQUEST)
    address = parse_address(given)
    found = asyncio.run(status(address, config.saved_cluster_token()))
    print_json(found) if args.json else print(status_text(found))
    return EXIT_OK
