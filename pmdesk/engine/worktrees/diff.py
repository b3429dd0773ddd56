"""Review: what a run, a task or a whole plan changed, as a stat and a bounded unified diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmdesk.engine.worktrees import checkout
from pmdesk.engine.worktrees.git import git
from pmdesk.models import ChangeStat

MAX_PATCH_CHARS = 400_000  # the window's diff view stays responsive; the CLI says where it was cut
PACKET_PATCH_CHARS = 20_000  # what an Inspection Packet carries for planning


@dataclass
class DiffSection:
    label: str  # "plan (base..integration)", "task #2", "run …"
    start: str
    end: str  # a commit, or "" for the working tree of ``where``
    stat: ChangeStat
    patch: str = ""
    truncated: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start": self.start, "end": self.end or None,
                "stat": self.stat.to_json_dict(), "patch": self.patch, "truncated": self.truncated}


@dataclass
class Diff:
    target: str
    sections: list[DiffSection] = field(default_factory=list)
    note: str | None = None  # why there is nothing to show, when there is not

    def to_json_dict(self) -> dict[str, Any]:
        return {"target": self.target, "sections": [s.to_json_dict() for s in self.sections], "note": self.note}


def section(where: Path, label: str, start: str, end: str | None, stat_only: bool,
            limit: int = MAX_PATCH_CHARS) -> DiffSection:
    """``start..end`` in ``where``; with no ``end``, ``start`` against the worktree's files now."""
    stat = checkout.change_stat(where, start, end)
    args = [start, end] if end else [start]
    if stat_only:
        return DiffSection(label, start, end or "", stat)
    text = git(where, "diff", "--no-color", "-M", *args).out
    truncated = len(text) > limit
    if truncated:
        cut = text.rfind("\n", 0, limit)
        text = text[: cut if cut > 0 else limit] + "\n"
    return DiffSection(label, start, end or "", stat, text, truncated)


def stat_text(stat: ChangeStat, width: int = 60) -> list[str]:
    """``git diff --stat``-like lines: path | +a −r."""
    lines = []
    for f in stat.files:
        counts = "binary" if f.binary else f"+{f.added} -{f.removed}"
        lines.append(f" {f.path[-width:]:<{min(width, max(len(x.path) for x in stat.files))}} | {counts}")
    lines.append(f" {stat.files_changed} file(s) changed, {stat.lines_added} insertion(s)(+), "
                 f"{stat.lines_removed} deletion(s)(-)")
    return lines
