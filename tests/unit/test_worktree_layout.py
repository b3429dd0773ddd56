"""Where worktrees go, the merge order, and the +/- counts of a change (a real repository)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pmdesk.engine.worktrees import checkout, layout
from pmdesk.models import Plan, PlanTask, new_id


def plan_of(*tasks: tuple[str, int, list[str]]) -> Plan:
    ids = {name: new_id("ptask") for name, _, _ in tasks}
    return Plan(plan_id=new_id("plan"), project_id=new_id("pidx"), tasks=[
        PlanTask(task_id=ids[name], description=name, priority=priority, dependencies=[ids[d] for d in deps])
        for name, priority, deps in tasks])


def test_branches_merge_dependencies_first_then_by_priority() -> None:
    plan = plan_of(("docs", 3, ["schema"]), ("ui", 2, ["schema"]), ("api", 1, ["schema"]), ("schema", 2, []),
                   ("lint", 1, []))
    order = [t.description for t in layout.integration_order(plan)]
    assert order == ["lint", "schema", "api", "ui", "docs"]
    docs = plan.tasks[0]
    assert layout.dependency_branches(plan, docs) == [layout.task_branch(plan, plan.tasks[3].task_id)]
    short = layout.short(plan.plan_id)
    assert layout.task_branch(plan, docs.task_id) == f"pmdesk/{short}/1"
    assert layout.integration_branch(plan.plan_id) == f"pmdesk/{short}/integration"
    owner = layout.owner_of(plan.project_id, layout.task_path(plan.project_id, plan, docs.task_id))
    assert owner == layout.Owner(short, 1, None, False)
    assert layout.owner_of(plan.project_id, Path("/elsewhere/1")) is None  # the user's own worktrees are not ours


def test_the_change_counts_renames_and_binary_files(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "old.txt").write_text("".join(f"line {i}\n" for i in range(20)))
    (tmp_path / "gone.txt").write_text("bye\n")
    git("add", "-A")
    git("commit", "-qm", "one")
    start = checkout.head(tmp_path)
    git("mv", "old.txt", "new.txt")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    git("add", "-A")
    git("commit", "-qm", "two")
    stat = checkout.change_stat(tmp_path, start, checkout.head(tmp_path))
    files = {f.path: (f.added, f.removed, f.binary) for f in stat.files}
    assert files == {"new.txt": (0, 0, False), "gone.txt": (0, 1, False), "blob.bin": (0, 0, True)}
    assert (stat.files_changed, stat.lines_added, stat.lines_removed) == (3, 0, 1)
