"""Parallel work that cannot collide (DESIGN §10), through the CLI on real repositories and worktrees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from tests.conftest import ROOT
from tests.engine.isolation_helpers import (
    GATE_SCRIPT,
    add_project,
    cli,
    cli_json,
    git,
    make_repo,
    new_plan,
    show,
    snapshot,
)


def test_parallel_tasks_work_apart_and_meet_on_the_integration_branch(tmp_path: Path, private_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p", gate_files=["a.txt", "b.txt", "c.txt"])
    assert ".claude/state/" in (repo / ".git" / "info" / "exclude").read_text()
    plan = new_plan(tmp_path, "p", [
        {"id": "t1", "description": "first [write a.txt from_one] [sleep 1.5]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "second [write b.txt from_two] [commit the agent's own commit] [sleep 1.5]",
         "priority": 2, "dependencies": []},
        {"id": "t3", "description": "third [need a.txt] [write c.txt three]", "priority": 1, "dependencies": ["t1"]},
    ])
    plan_id = plan["planId"]
    before = snapshot(repo)

    dispatch = subprocess.Popen([sys.executable, "-m", "pmdesk", "dispatch", plan_id, "--quiet"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    deadline = time.time() + 30
    while "RUNNING" not in cli("show", plan_id).stdout.split("tasks)")[1]:
        assert time.time() < deadline, "no task started"
        time.sleep(0.1)
    (repo / "unrelated.txt").write_text("the user edits this while the plan runs\n")  # the user keeps working
    (repo / "scratch.txt").write_text("a new file of the user's\n")
    out, err = dispatch.communicate(timeout=120)
    assert dispatch.returncode == 0, out + err

    after = snapshot(repo)
    assert after["head"] == before["head"] and after["branch"] == before["branch"]
    assert after["index"] == before["index"]
    assert after["status"] == " M unrelated.txt\n?? scratch.txt\n"  # only the user's own edits; no .claude/state
    mine = ("unrelated.txt", "scratch.txt")
    assert {k: v for k, v in after["files"].items() if k not in mine} == \
        {k: v for k, v in before["files"].items() if k not in mine}
    assert not (repo / "a.txt").exists() and not (repo / "b.txt").exists()

    shown = cli_json("show", plan_id)
    head = before["head"].strip()
    assert shown["baseBranch"] == "main" and shown["baseCommit"] == head
    short = plan_id.split("_", 1)[1][:8]
    worktrees = private_home / "data" / "pmdesk" / "worktrees"
    for n, task in enumerate(shown["tasks"], 1):
        assert task["status"] == "COMPLETE", task
        assert task["branch"] == f"pmdesk/{short}/{n}"
        assert Path(task["worktreePath"]).is_relative_to(worktrees) and Path(task["worktreePath"]).name == str(n)
        assert task["baseCommit"] == head and task["headCommit"] != task["startCommit"]
        assert task["changes"]["filesChanged"] == 1 and task["changes"]["linesAdded"] == 1
    third = shown["tasks"][2]
    assert third["startCommit"] == shown["tasks"][0]["headCommit"]  # the dependent started from #1's work
    assert show(repo, third["branch"], "a.txt") == "from one\n"
    log = git(repo, "log", "--format=%an|%s", "-1", shown["tasks"][0]["branch"])
    assert log.startswith("pmdesk agent|first [write a.txt from_one]")  # what the agent left, committed for it
    own = git(repo, "log", "--format=%an|%s", f"{head}..{shown['tasks'][1]['branch']}").splitlines()
    assert own == ["fake agent|the agent's own commit"]  # a run that committed keeps its commit, nothing added
    run_stat = cli("diff", shown["tasks"][0]["runId"], "--stat").stdout
    assert "a.txt" in run_stat and "1 file(s) changed" in run_stat
    packet = cli_json("inspect", shown["tasks"][2]["runId"], "--format", "json")
    changes = packet["meta"]["changes"]  # planning from this packet knows what the run changed
    assert changes["branch"] == shown["tasks"][2]["branch"] and changes["stat"]["files"][0]["path"] == "c.txt"
    assert "+three" in changes["patch"]

    verified = cli_json("verify", plan_id)
    assert verified["status"] == "VERIFIED", verified
    integration = verified["integration"]
    assert integration["branch"] == f"pmdesk/{short}/integration"
    assert set(integration["mergedTaskIds"]) == {t["taskId"] for t in shown["tasks"]}
    for name, text in (("a.txt", "from one\n"), ("b.txt", "from two\n"), ("c.txt", "three\n")):
        assert show(repo, integration["branch"], name) == text
    assert snapshot(repo)["head"] == before["head"]  # verify does not touch the checkout either

    stat = cli("diff", plan_id, "--stat").stdout
    assert "a.txt" in stat and "b.txt" in stat and "c.txt" in stat and "3 file(s) changed" in stat
    patch = cli("diff", plan_id).stdout
    assert "+from one" in patch and "@@" in patch

    merged = cli_json("merge", plan_id)
    assert merged["merge"]["mode"] == "fast-forward" and merged["merge"]["intoBranch"] == "main"
    assert (repo / "a.txt").read_text() == "from one\n" and (repo / "c.txt").read_text() == "three\n"
    assert (repo / "unrelated.txt").read_text().startswith("the user edits")  # the user's edit survives
    activity = cli("activity", "p").stdout
    assert "plan_merged" in activity
    assert cli("merge", plan_id, code=None).returncode != 0  # merged already: refused, nothing changes


def conflicting_plan(tmp_path: Path) -> str:
    plan = new_plan(tmp_path, "p", [
        {"id": "t1", "description": "one [write same.txt from_one]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "two [write same.txt from_two]", "priority": 2, "dependencies": []},
    ])
    cli("dispatch", plan["planId"], "--quiet")
    return str(plan["planId"])


def test_a_conflict_stops_verify_before_any_gate_and_each_way_on_works(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p", gate_files=["same.txt"])
    mark = tmp_path / "gates-ran"
    env = {"GATE_MARK": str(mark)}

    # Stopped: names both tasks and the file, runs no gate, loses neither branch.
    plan_id = conflicting_plan(tmp_path)
    failed = cli_json("verify", plan_id, code=1, env=env)
    assert failed["status"] == "FAILED" and not mark.exists()
    conflict = failed["integration"]["conflict"]
    one, two = failed["tasks"]
    assert conflict["taskId"] == two["taskId"] and conflict["withTaskIds"] == [one["taskId"]]
    assert conflict["files"] == ["same.txt"]
    check = failed["gateResult"]["checks"][0]
    assert check["name"] == "integration" and "task #2 conflicts with task #1 in same.txt" in check["message"]
    assert show(repo, one["branch"], "same.txt") == "from one\n" and show(repo, two["branch"], "same.txt") == "from two\n"
    assert "CONFLICT: task #2 with #1 in same.txt" in cli("show", plan_id).stdout

    # By hand: refused while markers remain; continues once they are gone.
    folder = Path(failed["integration"]["worktreePath"])
    said = cli("resolve", plan_id, "--by-hand").stdout
    assert str(folder) in said and "same.txt" in said
    assert "<<<<<<<" in (folder / "same.txt").read_text()
    refused = cli("verify", plan_id, code=2, env=env)
    assert "conflict markers remain in same.txt" in refused.stderr and not mark.exists()
    (folder / "same.txt").write_text("from one\nfrom two\n")
    verified = cli_json("verify", plan_id, env=env)
    assert verified["status"] == "VERIFIED" and mark.read_text().strip() == str(folder)
    assert show(repo, verified["integration"]["branch"], "same.txt") == "from one\nfrom two\n"
    assert verified["integration"]["conflict"] is None if "conflict" in verified["integration"] else True

    # Leave the task out: the other's work is verified alone.
    plan_id = conflicting_plan(tmp_path)
    cli("verify", plan_id, code=1)
    cli("resolve", plan_id, "--leave-out")
    verified = cli_json("verify", plan_id)
    assert verified["status"] == "VERIFIED", verified
    assert verified["integration"]["leftOutTaskIds"] == [verified["tasks"][1]["taskId"]]
    assert show(repo, verified["integration"]["branch"], "same.txt") == "from one\n"

    # An agent resolves it in the integration worktree; verify then reuses what was merged.
    plan_id = conflicting_plan(tmp_path)
    cli("verify", plan_id, code=1)
    resolved = cli("resolve", plan_id, "--agent")
    assert "COMPLETE in the integration worktree" in resolved.stdout, resolved.stdout + resolved.stderr
    verified = cli_json("verify", plan_id)
    assert verified["status"] == "VERIFIED", verified
    text = show(repo, verified["integration"]["branch"], "same.txt")
    assert "from one" in text and "from two" in text and "<<<<<<<" not in text
    assert len(verified["integration"]["mergedTaskIds"]) == 2


def verified_plan(tmp_path: Path, tasks: list[dict[str, object]]) -> str:
    plan = new_plan(tmp_path, "p", tasks)
    cli("dispatch", plan["planId"], "--quiet")
    assert cli_json("verify", plan["planId"])["status"] == "VERIFIED"
    return str(plan["planId"])


def one_task(name: str, text: str = "new") -> list[dict[str, object]]:
    return [{"id": "t1", "description": f"make {name} [write {name} {text}]", "priority": 1, "dependencies": []}]


def test_merge_fast_forward_merge_commit_squash_and_each_refusal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p")

    # A merge commit: the user's branch moved (without conflict) since the plan's base.
    plan_id = verified_plan(tmp_path, one_task("m.txt"))
    (repo / "theirs.txt").write_text("the user's commit\n")
    git(repo, "add", "theirs.txt")
    git(repo, "commit", "-q", "-m", "the user's own work")
    merged = cli_json("merge", plan_id)["merge"]
    assert merged["mode"] == "merge"
    assert len(git(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()) == 3
    assert (repo / "m.txt").read_text() == "new\n"

    # Squash: one new commit with one parent.
    plan_id = verified_plan(tmp_path, one_task("s.txt"))
    before = git(repo, "rev-parse", "HEAD").strip()
    merged = cli_json("merge", plan_id, "--squash")["merge"]
    assert merged["mode"] == "squash"
    assert git(repo, "rev-parse", "HEAD^").strip() == before and (repo / "s.txt").exists()
    short = plan_id.split("_", 1)[1][:8]
    squashed = [w for w in cli_json("worktrees", "p")[0]["worktrees"] if w["planShort"] == short]
    assert {w["state"] for w in squashed} == {"merged"}  # its change is on main, though its commits are not

    # Refused: uncommitted changes in a file the plan touches (nothing changes).
    plan_id = verified_plan(tmp_path, [{"id": "t1", "description": "edit [append README.md more]", "priority": 1,
                                        "dependencies": []}])
    (repo / "README.md").write_text("# sample\nmy own unsaved line\n")
    state = snapshot(repo)
    refused = cli("merge", plan_id, code=2)
    assert "uncommitted changes in README.md" in refused.stderr
    assert snapshot(repo) == state
    git(repo, "checkout", "README.md")

    # Refused: the branch moved in a way that conflicts; rebuilding on the new HEAD is offered.
    (repo / "README.md").write_text("# sample\nthe user's conflicting line\n")
    git(repo, "commit", "-q", "-am", "conflicting edit")
    state = snapshot(repo)
    refused = cli("merge", plan_id, code=2)
    assert "has moved since the plan's base and now conflicts" in refused.stderr and "--rebase" in refused.stderr
    assert snapshot(repo) == state
    rebuilt = cli_json("verify", plan_id, "--rebase", code=1)  # on the new HEAD the task's edit conflicts
    assert rebuilt["baseCommit"] == state["head"].strip() and rebuilt["integration"]["conflict"]["files"] == ["README.md"]

    # Refused: not VERIFIED, unless forced (and the activity says so).
    plan = new_plan(tmp_path, "p", one_task("f.txt"))
    cli("dispatch", plan["planId"], "--quiet")
    refused = cli("merge", plan["planId"], code=2)
    assert "verify it first" in refused.stderr
    cli("project", "set", "p", "--gate", f"{sys.executable} gate.py no-such-file")
    assert cli_json("verify", plan["planId"], code=1)["status"] == "FAILED"
    refused = cli("merge", plan["planId"], code=2)
    assert "not VERIFIED" in refused.stderr and "--force" in refused.stderr
    forced = cli_json("merge", plan["planId"], "--force")["merge"]
    assert forced["forced"] is True and (repo / "f.txt").exists()
    merges = [a for a in cli_json("activity", "p") if a["type"] == "plan_merged"]
    assert "without a passing verify (forced)" in merges[0]["message"] and merges[0]["data"]["forced"] is True


def test_cleanup_refuses_unsaved_work_and_force_keeps_a_backup_that_restores(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p")
    plan = new_plan(tmp_path, "p", [
        {"id": "t1", "description": "keep [write keep.txt precious]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "empty: changes nothing", "priority": 2, "dependencies": []},
    ])
    plan_id = plan["planId"]
    cli("dispatch", plan_id, "--quiet")
    shown = cli_json("show", plan_id)
    assert shown["tasks"][1]["noChanges"] is True and "no changes" in cli("show", plan_id).stdout
    first = Path(shown["tasks"][0]["worktreePath"])
    (first / "late.txt").write_text("written after the run ended\n")  # uncommitted work in a worktree

    listed = cli_json("worktrees", "p")[0]["worktrees"]
    states = {w["taskNumber"]: w["state"] for w in listed}
    assert states == {1: "uncommitted changes", 2: "clean"}
    assert all(w["sizeBytes"] > 0 for w in listed)
    assert "uncommitted changes" in cli("worktrees").stdout

    refused = cli("clean", plan_id, code=1)
    assert "uncommitted changes" in refused.stderr and first.is_dir()
    (first / "late.txt").unlink()
    refused = cli("clean", plan_id, code=1)  # still its commit is on no branch of the project
    assert "commit(s) on no branch" in refused.stderr and first.is_dir()
    (first / "late.txt").write_text("written after the run ended\n")

    done = cli("clean", plan_id, "--force")
    backup = f"refs/pmdesk/backup/{plan_id.split('_', 1)[1][:8]}/1"
    assert f"saved to {backup}" in done.stdout and not first.exists()
    assert shown["tasks"][0]["branch"] not in git(repo, "branch", "--list", "pmdesk/*")
    assert backup in cli("worktrees", "p").stdout
    git(repo, "branch", "restored", backup)  # the restore the listing tells the user about
    assert show(repo, "restored", "keep.txt") == "precious\n"
    assert show(repo, "restored", "late.txt") == "written after the run ended\n"

    # --merged removes only what is merged (or empty).
    plan_id = verified_plan(tmp_path, one_task("z.txt"))
    cli("merge", plan_id)
    other = new_plan(tmp_path, "p", one_task("y.txt"))
    cli("dispatch", other["planId"], "--quiet")
    done = cli("clean", "--merged")
    listed = cli_json("worktrees", "p")[0]["worktrees"]
    assert [w["planShort"] for w in listed] == [other["planId"].split("_", 1)[1][:8]]
    assert "removed" in done.stdout


def test_kill9_mid_dispatch_then_restart_finds_the_worktrees_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p")
    log = tmp_path / "agent.log"
    monkeypatch.setenv("FAKE_AGENT_LOG", str(log))
    plan = new_plan(tmp_path, "p", [
        {"id": "t1", "description": "slow [write a.txt half_done] [hang 60]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "quick [write b.txt done]", "priority": 2, "dependencies": []},
    ])
    plan_id = plan["planId"]
    proc = subprocess.Popen([sys.executable, "-m", "pmdesk", "dispatch", plan_id, "--quiet"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.time() + 30
    while not (log.exists() and len(log.read_text().splitlines()) == 2 and
               cli_json("show", plan_id)["tasks"][1]["status"] == "COMPLETE"):
        assert time.time() < deadline, "the tasks never got going"
        time.sleep(0.1)
    time.sleep(0.3)  # the slow agent has written its file and hangs
    proc.kill()
    proc.wait()

    engine = Engine()
    notes = engine.recover()
    assert any("interrupted" in n for n in notes), notes
    shown = engine.store(engine.project("p")).get_plan(plan_id)
    slow, quick = shown.tasks
    assert slow.status.value == "ERROR" and "interrupted" in (slow.error or "")
    assert quick.status.value == "COMPLETE"
    assert show(repo, slow.branch or "", "a.txt") == "half done\n"  # its uncommitted work, committed
    assert git(repo, "log", "-1", "--format=%an", slow.branch or "").strip() == "pmdesk agent"
    assert show(repo, quick.branch or "", "b.txt") == "done\n"
    listed = cli_json("worktrees", "p")[0]["worktrees"]
    assert sorted(w["taskNumber"] for w in listed) == [1, 2]
    assert len(log.read_text().splitlines()) == 2  # nothing ran again
    engine.ctx.close()

    # A worktree folder deleted behind pmdesk's back is reported at the next start; its branch stays.
    shutil.rmtree(quick.worktree_path or "")
    engine = Engine()
    notes = engine.recover()
    assert any("had vanished" in n and (quick.worktree_path or "") in n for n in notes), notes
    assert show(repo, quick.branch or "", "b.txt") == "done\n"
    assert [w["taskNumber"] for w in cli_json("worktrees", "p")[0]["worktrees"]] == [1]
    engine.ctx.close()


def test_a_folder_without_git_is_told_so_and_may_run_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "gate.py").write_text(GATE_SCRIPT)
    add_project(folder, "p", gate_files=["a.txt", "b.txt"])
    plan = new_plan(tmp_path, "p", [
        {"id": "t1", "description": "one [write a.txt one]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "two [need a.txt] [write b.txt two]", "priority": 2, "dependencies": []},
    ])
    refused = cli("dispatch", plan["planId"], code=1)
    assert "isolation needs git" in refused.stderr and "--in-place" in refused.stderr
    assert "git-init" in refused.stderr
    assert cli_json("show", plan["planId"])["status"] == "DRAFT"  # nothing was started or written

    cli("dispatch", plan["planId"], "--in-place", "--quiet")
    shown = cli_json("show", plan["planId"])
    assert shown["inPlace"] is True and [t["status"] for t in shown["tasks"]] == ["COMPLETE", "COMPLETE"]
    assert (folder / "a.txt").exists() and (folder / "b.txt").exists()  # sequential, in the folder
    assert cli_json("verify", plan["planId"])["status"] == "VERIFIED"
    assert "ran in the project folder" in cli("merge", plan["planId"], code=2).stderr
    assert "in the project folder" in cli("diff", plan["planId"]).stderr

    assert "initialised a git repository" in cli("project", "git-init", "p").stdout
    assert ".claude/state" not in git(folder, "ls-files")
    plan = new_plan(tmp_path, "p", [{"id": "t1", "description": "three [write c.txt three]", "priority": 1,
                                     "dependencies": []}])
    cli("dispatch", plan["planId"], "--quiet")
    assert cli_json("show", plan["planId"])["tasks"][0]["branch"].startswith("pmdesk/")
    assert not (folder / "c.txt").exists()


def test_a_single_run_in_a_new_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    add_project(repo, "p")
    run = cli_json("run", "p", "alone [write x.txt by_itself]", "--worktree")
    assert run["status"] == "COMPLETE" and run["branch"] == f"pmdesk/run-{run['runId'].split('_', 1)[1][:8]}"
    assert not (repo / "x.txt").exists() and (Path(run["worktreePath"]) / "x.txt").exists()
    assert run["changes"]["files"][0]["path"] == "x.txt"
    assert "x.txt" in cli("diff", run["runId"], "--stat").stdout
    assert "+by itself" in cli("diff", run["runId"]).stdout
    plain = cli_json("run", "p", "here [write y.txt in_place]")
    assert "branch" not in plain and (repo / "y.txt").exists()  # the default stays the project folder


def test_worktree_set_up_copies_and_commands_and_a_failing_one_ends_the_task(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".gitignore": ".env\n"})
    (repo / ".env").write_text("SECRETLESS=1\n")
    add_project(repo, "p")
    cli("project", "set", "p", "--copy", ".env", "--setup", f"{sys.executable} -c \"print('set up ok')\"")
    plan = new_plan(tmp_path, "p", [{"id": "t1", "description": "uses env [need .env] [write out.txt ok]",
                                     "priority": 1, "dependencies": []}])
    cli("dispatch", plan["planId"], "--quiet")
    task = cli_json("show", plan["planId"])["tasks"][0]
    assert task["status"] == "COMPLETE", task
    trail = cli("log", task["runId"]).stdout
    assert "copied .env" in trail and "set up ok" in trail and "found .env" in trail

    cli("project", "set", "p", "--setup", f"{sys.executable} -c \"import sys; print('no deps here'); sys.exit(3)\"")
    plan = new_plan(tmp_path, "p", [{"id": "t1", "description": "never runs [write z.txt z]", "priority": 1,
                                     "dependencies": []}])
    cli("dispatch", plan["planId"], "--quiet", code=1)
    task = cli_json("show", plan["planId"])["tasks"][0]
    assert task["status"] == "ERROR" and "exited with code 3" in task["error"] and "no deps here" in task["error"]
