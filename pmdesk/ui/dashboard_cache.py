"""Where the dashboard as last shown is kept for the next start: found without importing the
engine (the window lists the projects at its first paint, before the engine has loaded)."""

from __future__ import annotations

from pathlib import Path


def cached_dashboard_path() -> Path:
    """``<data dir>/dashboard.json``: made again from the projects' files whenever it is missing."""
    from platformdirs import PlatformDirs

    return Path(PlatformDirs("pmdesk", appauthor=False).user_data_dir) / "dashboard.json"
