"""Where a plan's runs execute: the dispatch's choice, else the project's, else the app's, else here."""

from __future__ import annotations

import socket

from pmdesk import config
from pmdesk.engine.cluster.connection import (
    LINK,
    PROBE_TIMEOUT_S,
    ClusterError,
    ClusterStatus,
    host_port,
    parse_address,
    status,
    status_now,
)
from pmdesk.engine.context import EngineContext
from pmdesk.models import Project

LOCAL = "local"  # said explicitly: this machine, whatever the defaults


def placement(ctx: EngineContext, project: Project, on: str | None) -> str | None:
    """The cluster address a plan's runs go to, or None for this machine. A bad address is refused."""
    choice = on if on is not None else (ctx.project_settings(project).settings.cluster or ctx.settings.cluster)
    if choice is None or choice.strip() in ("", LOCAL):
        return None
    return parse_address(choice)


async def reachable(address: str) -> ClusterStatus:
    """The cluster as it is now; refused with the reason within seconds when it cannot be reached."""
    return await status(address, config.saved_cluster_token())


def status_blocking(address: str) -> ClusterStatus:
    """For the estimate (already in a thread): a plain socket probe, then Ray."""
    host, port = host_port(address)
    try:
        socket.create_connection((host, port), PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"the Ray cluster at {address} cannot be reached: {exc}") from None
    ray = LINK.connect(address, config.saved_cluster_token())
    return status_now(ray, address)


__all__ = ["LOCAL", "ClusterError", "placement", "reachable", "status_blocking"]
