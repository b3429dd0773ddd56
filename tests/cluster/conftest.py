"""A real two-node Ray cluster on 127.0.0.1, started by the tests (the extra ``pmdesk[ray]``).

A head and a second node, each a ``ray start --block`` in a session of its own with one CPU, so two
runs at once are placed one on each node; the second node can be killed alone. The workers find the
fake ``claude`` through their own environment, as a real cluster's nodes would find theirs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.local_cluster import FAST_HEALTH, LocalCluster, free_port
from tests.conftest import FAKE_CLAUDE

pytest.importorskip("ray", reason="the cluster tests need the extra: pip install 'pmdesk[ray]' (CI installs it)")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("cluster")
    temp = Path(tempfile.mkdtemp(prefix="pmr", dir="/tmp"))  # Ray's sockets want a short path
    env = {**os.environ, **FAST_HEALTH, "RAY_USAGE_STATS_ENABLED": "0", "PMDESK_CLAUDE_BIN": str(FAKE_CLAUDE),
           "FAKE_CLAUDE_LOG": str(base / "fake_claude_log.jsonl"), "PMDESK_CLUSTER_WORKDIR": str(base / "work"),
           "PMDESK_NO_KEYRING": "1"}
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "RAY_ADDRESS"):
        env.pop(name, None)
    cluster = LocalCluster(address=f"ray://127.0.0.1:{free_port()}", gcs=f"127.0.0.1:{free_port()}",
                           workdir=base / "work", log=base / "fake_claude_log.jsonl", env=env, temp=temp)
    try:
        cluster.start_node("head", head=True)
        cluster.start_node("second", head=False)
        yield cluster
    finally:
        cluster.stop()
