"""The installer: build the bundle and the .deb, unpack it, and self-test the app from it.

This is the CI check that a missing data file or hidden import fails the build, not the user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import pmdesk
from tests.conftest import ROOT

APP_ID = "dev.pmdesk.pmdesk"


@pytest.fixture(scope="module")
def deb() -> Path:
    built = subprocess.run([str(ROOT / "packaging" / "build.sh")], cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    path = ROOT / "dist" / f"pmdesk_{pmdesk.__version__}_{arch}.deb"
    assert path.is_file()
    return path


@pytest.mark.timeout(1500)
def test_the_deb_installs_a_working_app(deb: Path, tmp_path: Path) -> None:
    fields = subprocess.run(["dpkg-deb", "--field", str(deb), "Package", "Version"], capture_output=True,
                            text=True, check=True).stdout
    assert "Package: pmdesk" in fields and f"Version: {pmdesk.__version__}" in fields
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)

    for path in ("opt/pmdesk/pmdesk", "usr/bin/pmdesk", f"usr/share/applications/{APP_ID}.desktop",
                 f"usr/share/metainfo/{APP_ID}.metainfo.xml", f"usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
                 f"usr/share/icons/hicolor/48x48/apps/{APP_ID}.png", f"usr/share/icons/hicolor/256x256/apps/{APP_ID}.png",
                 "opt/pmdesk/_internal/pmdesk/resources/pmdesk.qss"):
        assert (root / path).is_file(), path
    assert "Exec=pmdesk" in (root / f"usr/share/applications/{APP_ID}.desktop").read_text()
    if shutil.which("appstreamcli"):
        check = subprocess.run(["appstreamcli", "validate", "--no-net",
                                str(root / f"usr/share/metainfo/{APP_ID}.metainfo.xml")], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    app = root / "opt" / "pmdesk" / "pmdesk"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", PATH="/usr/bin:/bin")  # nothing from the checkout or its venv
    version = subprocess.run([str(app), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.stdout.strip() == f"pmdesk {pmdesk.__version__}", version.stderr
    selftest = subprocess.run([str(app), "--selftest"], capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    for step in ("window opened", "command run completed", "gate ran and the plan verified", "badge rendered",
                 "local API answered", "agent SDK loads"):
        assert step in selftest.stdout
    listed = subprocess.run([str(app), "project", "list", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0 and listed.stdout.strip().startswith("[")
