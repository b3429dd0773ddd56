"""What a planner reads of a project when it plans from a goal: its files, the head of its
README, its recent plans. Bounded, files only (for a worker thread), and without what pmdesk
never shows a model: its own state, git's internals, dependencies, secrets."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from pmdesk.store import StateStore

MAX_FILES = 300
README_CHARS = 4000
RECENT_PLANS = 5
SKIP_DIRS = {".git", ".claude", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", ".mypy_cache",
             ".pytest_cache", ".ruff_cache", ".tox", "target"}


def project_files(root: Path) -> list[str]:
    """The project's files: git's list where it is a repository (tracked and untracked, ignored
    left out), else a bounded walk; sorted, at most MAX_FILES."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, text=True, timeout=20, check=False)
        if listed.returncode == 0:
            names = [n for n in listed.stdout.splitlines() if n and n.split("/")[0] not in SKIP_DIRS]
            return sorted(names)[:MAX_FILES]
    except (OSError, subprocess.TimeoutExpired):
        pass
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            found.append(os.path.relpath(os.path.join(folder, name), root))
            if len(found) >= MAX_FILES:
                return found
    return found


def readme_head(root: Path) -> str | None:
    for name in ("README.md", "README.rst", "README.txt", "README"):
        path = root / name
        if path.is_file() and not path.is_symlink():
            try:
                with path.open("r", encoding="utf-8", errors="replace") as handle:
                    return handle.read(README_CHARS)
            except OSError:
                return None
    return None


def project_context(root: Path, store: StateStore, scrub: Callable[[str], str]) -> str:
    """The context block of a goal prompt (``scrub``: the engine's redaction of known secrets)."""
    parts: list[str] = []
    files = project_files(root)
    more = f" (the first {MAX_FILES})" if len(files) >= MAX_FILES else ""
    parts.append(f"Files of the project{more}:\n" + ("\n".join(files) if files else "(none yet)"))
    readme = readme_head(root)
    if readme:
        parts.append(f"README (head):\n{readme}")
    recent = sorted(store.list_plans(), key=lambda p: p.created_at, reverse=True)[:RECENT_PLANS]
    if recent:
        parts.append("Recent plans:\n" + "\n".join(
            f"- {p.status.value}: {p.summary or '(no summary)'} ({p.tasks_complete}/{p.task_count} tasks complete)"
            for p in recent))
    return scrub("\n\n".join(parts))
