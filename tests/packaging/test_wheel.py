"""The wheel: every package of the tree, the one resources/ folder as package data, an SPDX license."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.conftest import ROOT

RESOURCES = ("pmdesk.qss", "pmdesk.svg", "dev.pmdesk.pmdesk.desktop", "dev.pmdesk.pmdesk.metainfo.xml")


def test_the_package_list_matches_the_tree() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pmdesk").rglob("*.py")}
    assert found | {"pmdesk.resources"} == listed  # a new package left out of the list would miss the wheel
    for package in found:  # and a folder of modules without an __init__ is a namespace setuptools leaves out
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), package


def test_the_wheel_carries_the_resources_and_no_deprecation_of_ours(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "project.license" not in built.stderr  # the license is an SPDX string, not a deprecated table
    wheel = next(tmp_path.glob("pmdesk-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {f"pmdesk/resources/{name}" for name in RESOURCES} <= names
    assert "pmdesk/ui/controllers/window.py" in names and "pmdesk/engine/plans/rules.py" in names
    assert "pmdesk/engine/worktrees/merge.py" in names and "pmdesk/engine/search/index.py" in names
    assert "License-Expression: MIT" in metadata
    for name in RESOURCES:  # one source: nothing of them is left in the package or packaging/
        assert not (ROOT / "pmdesk" / "resources" / name).exists()
        assert not (ROOT / "packaging" / "linux" / name).exists()
