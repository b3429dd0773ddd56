"""Run every benchmark and print one table.

    .venv/bin/python -m benchmarks            full size (several minutes)
    .venv/bin/python -m benchmarks --quick    smaller inputs, same shape
    .venv/bin/python -m benchmarks --only store,runs
    .venv/bin/python -m benchmarks --only isolation   worktrees, integration, disk (issue 15)
    .venv/bin/python -m benchmarks --only permissions a permission's round trip in the window (issue 16)
    .venv/bin/python -m benchmarks --only search      a million events searched, against grep (issue 18)
    .venv/bin/python -m benchmarks --only scale       a year of runs in one project: pages, overview (issue 20)
    .venv/bin/python -m benchmarks --only cluster     a plan on a local Ray cluster of 1 and 2 nodes (issue 19)
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks.common import Result, print_table, private_home

SECTIONS = ("store", "runs", "loop", "isolation", "ui", "api", "permissions", "search", "scale", "cluster")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    only = set(args.only.split(","))
    home = private_home()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results: list[Result] = []

    def section(name: str, fn: object) -> None:
        if name not in only:
            return
        print(f"… {name}", file=sys.stderr, flush=True)
        results.extend(fn(args.quick, home))  # type: ignore[operator]

    from benchmarks import bench_engine, bench_store

    section("store", bench_store.run)
    section("runs", bench_engine.run_output)
    section("loop", bench_engine.run_scheduling)
    section("loop", bench_engine.run_verify)
    if "isolation" in only:
        from benchmarks import bench_worktrees

        section("isolation", bench_worktrees.run)
    if "ui" in only:
        from benchmarks import bench_ui

        section("ui", bench_ui.run)
    if "api" in only:
        from benchmarks import bench_api

        section("api", bench_api.run)
    if "permissions" in only:
        from benchmarks import bench_permissions

        section("permissions", bench_permissions.run)
    if "search" in only:
        from benchmarks import bench_search

        section("search", bench_search.run)
    if "scale" in only:
        from benchmarks import bench_scale

        section("scale", bench_scale.run)
    if "cluster" in only:
        from benchmarks import bench_cluster

        section("cluster", bench_cluster.run)
    print()
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
