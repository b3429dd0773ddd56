"""Registering projects, from the command line, in a private XDG home."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pmdesk.models import project_id_for_path
from tests.conftest import run_cli


def test_add_list_show_remove(tmp_path: Path, private_home: Path) -> None:
    folder = tmp_path / "my project"
    folder.mkdir()
    added = run_cli("project", "add", str(folder), "--name", "Demo", "--json")
    assert added.returncode == 0, added.stderr
    project = json.loads(added.stdout)
    assert project["projectId"] == project_id_for_path(folder) and project["projectId"].startswith("pidx_")
    assert len(project["projectId"]) == len("pidx_") + 12
    for name in ("projects", "sessions", "runs", "events", "plans", "inspection-packets"):
        assert (folder / ".claude" / "state" / name).is_dir()
    # The registry lives in the private XDG config dir.
    assert (private_home / "config" / "pmdesk" / "projects.json").exists()

    again = run_cli("project", "add", str(folder))
    assert again.returncode == 2 and "already registered" in again.stderr

    listed = json.loads(run_cli("project", "list", "--json").stdout)
    assert [(p["name"], p["status"], p["total"]) for p in listed] == [("Demo", "idle", 0)]
    assert {"completed", "failed", "running", "awaiting"} <= set(listed[0])

    shown = run_cli("project", "show", "Demo")
    assert shown.returncode == 0 and "idle" in shown.stdout

    removed = run_cli("project", "remove", project["projectId"])
    assert removed.returncode == 0 and "untouched" in removed.stdout
    assert (folder / ".claude" / "state" / "runs").is_dir()  # files untouched
    assert json.loads(run_cli("project", "list", "--json").stdout) == []


def test_bad_paths_are_clear_errors(tmp_path: Path) -> None:
    missing = run_cli("project", "add", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    file = tmp_path / "file.txt"
    file.write_text("x")
    not_dir = run_cli("project", "add", str(file))
    assert not_dir.returncode == 2 and "not a folder" in not_dir.stderr
    unknown = run_cli("project", "show", "ghost")
    assert unknown.returncode == 2 and "no registered project" in unknown.stderr


def test_a_vanished_folder_is_listed_as_missing(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    assert run_cli("project", "add", str(folder)).returncode == 0
    shutil.rmtree(folder)
    listed = run_cli("project", "list", "--json")
    assert listed.returncode == 0
    assert json.loads(listed.stdout)[0]["status"] == "missing"
    assert "missing" in run_cli("project", "list").stdout


def test_version() -> None:
    import pmdesk

    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"pmdesk {pmdesk.__version__}"


def test_a_damaged_registry_is_kept_and_reported_never_replaced(private_home: Path, tmp_path: Path) -> None:
    config = private_home / "config" / "pmdesk"
    config.mkdir(parents=True)
    (config / "projects.json").write_text("{broken")
    listed = run_cli("project", "list", "--json")
    assert listed.returncode == 1 and "projects.json" in listed.stderr and "not valid JSON" in listed.stderr
    assert "repair it" in listed.stderr and listed.stdout == ""
    (tmp_path / "p").mkdir()
    added = run_cli("project", "add", str(tmp_path / "p"))  # would write a registry with one project
    assert added.returncode == 1 and "will not write over it" in added.stderr
    assert (config / "projects.json").read_text() == "{broken"  # byte for byte


def test_registry_entries_of_the_wrong_type_are_kept(private_home: Path, tmp_path: Path) -> None:
    config = private_home / "config" / "pmdesk"
    config.mkdir(parents=True)
    (tmp_path / "good").mkdir()
    assert run_cli("project", "add", str(tmp_path / "good")).returncode == 0
    data = json.loads((config / "projects.json").read_text())
    data["projects"].append({"projectId": 7, "name": ["not", "a", "name"]})
    (config / "projects.json").write_text(json.dumps(data))
    listed = run_cli("project", "list", "--json")
    assert listed.returncode == 0 and [p["name"] for p in json.loads(listed.stdout)] == ["good"]
    assert "1 of its 2 entries are not projects" in listed.stderr  # said on every command
    (tmp_path / "other").mkdir()
    assert run_cli("project", "add", str(tmp_path / "other")).returncode == 1
    assert json.loads((config / "projects.json").read_text()) == data  # the odd entry is not dropped
