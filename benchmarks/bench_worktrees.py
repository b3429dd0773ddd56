"""Isolation (issue 15): a task's worktree, a 20-task integration, and the disk an extra worktree costs.

Each pmdesk step is timed against the plain git commands that do the same work, back to back on
the same repository, so the ratio is pmdesk's own overhead and not the machine's mood.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, paired_ratio, spread, verdict
from pmdesk.engine.worktrees import checkout, integration, layout
from pmdesk.engine.worktrees.git import git_env
from pmdesk.engine.worktrees.inventory import disk_usage
from pmdesk.models import Plan, PlanTask, TaskState, new_id, size_text


def plain(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=git_env())


def make_repository(root: Path, files: int) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    plain(repo, "init", "-q", "-b", "main")
    for i in range(files):
        folder = repo / f"src/d{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_text(f"file {i}\n" * 20)
    plain(repo, "add", "-A")
    plain(repo, "commit", "-q", "-m", "generated")
    return repo


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def bench_prepare(repo: Path, root: Path, rounds: int) -> tuple[list[float], list[float]]:
    base = checkout.head(repo)
    ours, theirs = [], []
    for i in range(-1, rounds):  # round -1 warms the page cache for both, and is not counted
        for who in ("pmdesk", "git") if i % 2 == 0 else ("git", "pmdesk"):
            path, branch = root / f"wt-{who}-{i}", f"bench/{who}-{i}"
            if who == "pmdesk":
                took = timed(lambda p=path, b=branch: checkout.create(repo, p, b, base, []))
            else:
                took = timed(lambda p=path, b=branch: plain(repo, "worktree", "add", "--quiet", "-b", b, str(p), base))
            if i >= 0:
                (ours if who == "pmdesk" else theirs).append(took)
            plain(repo, "worktree", "remove", "--force", str(path))
    return ours, theirs


def twenty_tasks(repo: Path, root: Path, tasks: int) -> Plan:
    """A plan whose tasks each committed one file on their own branch."""
    base = checkout.head(repo)
    plan = Plan(plan_id=new_id("plan"), project_id=new_id("pidx"), base_branch="main", base_commit=base,
                tasks=[PlanTask(task_id=new_id("ptask"), description=f"task {n}", priority=n % 3)
                       for n in range(tasks)])
    for n, task in enumerate(plan.tasks, 1):
        branch = f"bench-task/{n}"
        path = root / f"task-{n}"
        plain(repo, "worktree", "add", "--quiet", "-b", branch, str(path), base)
        (path / f"task-{n}.txt").write_text(f"task {n}\n")
        plain(path, "add", "-A")
        plain(path, "commit", "-q", "-m", f"task {n}")
        plain(repo, "worktree", "remove", "--force", str(path))
        task.branch, task.status, task.start_commit = branch, TaskState.COMPLETE, base
    return plan


def bench_integration(repo: Path, root: Path, plan: Plan, rounds: int) -> tuple[list[float], list[float]]:
    order = [t.branch or "" for t in layout.integration_order(plan)]
    ours, theirs = [], []
    for i in range(rounds):
        for who in ("pmdesk", "git") if i % 2 == 0 else ("git", "pmdesk"):
            path, branch = root / f"int-{who}-{i}", f"bench-int/{who}-{i}"
            if who == "pmdesk":
                trial = plan.model_copy(deep=True, update={"plan_id": new_id("plan")})
                trial.integration = None

                def build(t: Plan = trial, p: Path = path, b: str = branch) -> None:
                    from pmdesk.models import Integration

                    t.integration = Integration(branch=b, worktree_path=str(p))
                    found = integration.build(repo, t)
                    assert found.conflict is None and len(found.merged_task_ids) == len(order)

                ours.append(timed(build))
            else:
                def direct(p: Path = path, b: str = branch) -> None:
                    plain(repo, "worktree", "add", "--quiet", "-b", b, str(p), plan.base_commit or "")
                    for n, other in enumerate(order, 1):
                        plain(p, "merge", "--no-ff", "--no-edit", "--quiet", "-m", f"merge task #{n}", other)

                theirs.append(timed(direct))
            plain(repo, "worktree", "remove", "--force", str(path))
    return ours, theirs


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def bench_disk(repo: Path, root: Path, deps_mb: int) -> list[Result]:
    """What one more worktree costs on the disk: its checkout, and a copied dependency folder."""
    (repo / ".gitignore").write_text("node_modules/\n")
    plain(repo, "add", ".gitignore")
    plain(repo, "commit", "-q", "-m", "ignore deps")
    deps = repo / "node_modules"
    deps.mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(deps_mb):
        (deps / f"pkg{i}.bin").write_bytes(chunk[i % 7:] + chunk[: i % 7])
    base = checkout.head(repo)
    plain_path, cow_path = root / "disk-plain", root / "disk-cow"
    before = free_bytes(root)
    checkout.create(repo, plain_path, "bench/disk-plain", base, [])
    checkout_cost = before - free_bytes(root)
    checkout.create(repo, cow_path, "bench/disk-cow", base, [])
    before = free_bytes(root)
    checkout.copy_in(repo, cow_path, ["node_modules"])
    copy_cost = max(0, before - free_bytes(root))
    deps_size = disk_usage(deps)
    reflinked = copy_cost < deps_size // 2
    tree = disk_usage(plain_path)
    limit = tree + deps_size
    return [
        Result("15", "extra worktree: its checkout (blocks under it)", size_text(tree)),
        Result("15", "extra worktree: free space it took", size_text(checkout_cost)),
        Result("15", f"ignored deps copied in ({size_text(deps_size)})", size_text(copy_cost),
               "≤ checkout + deps", verdict(checkout_cost + copy_cost <= limit * 1.05)),
        Result("15", "copy-on-write (cp --reflink=auto) on this filesystem",
               "shared blocks" if reflinked else "not supported: a full copy"),
    ]


def run(quick: bool, home: Path) -> list[Result]:
    del home
    files, rounds, tasks, deps_mb = (2000, 5, 20, 20) if quick else (10_000, 7, 20, 200)
    root = Path(tempfile.mkdtemp(prefix="pmdesk-bench-wt-"))
    try:
        repo = make_repository(root, files)
        ours, theirs = bench_prepare(repo, root, rounds)
        prepare = paired_ratio(ours, theirs)
        plan = twenty_tasks(repo, root, tasks)
        mine, direct = bench_integration(repo, root, plan, rounds)
        integrate = paired_ratio(mine, direct)
        results = [
            Result("15", f"task worktree, {files:,} files: pmdesk / git worktree add", f"{prepare:.2f}",
                   "≤ 1.10", verdict(prepare <= 1.10)),
            Result("15", "  (spread; git worktree add alone)", f"{spread(ours, theirs)}; "
                   f"{min(theirs) * 1000:.0f} ms"),
            Result("15", f"integration of {tasks} tasks: pmdesk / the same git merges", f"{integrate:.2f}",
                   "≤ 1.10", verdict(integrate <= 1.10)),
            Result("15", "  (spread; the git merges alone)", f"{spread(mine, direct)}; {min(direct) * 1000:.0f} ms"),
        ]
        return results + bench_disk(repo, root, deps_mb)
    finally:
        shutil.rmtree(root, ignore_errors=True)
