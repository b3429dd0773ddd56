"""The listing index: summaries of every record of a kind, without parsing records that did not change."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pmdesk.store.atomic import atomic_write_json
from pmdesk.store.errors import StoreError
from pmdesk.store.safe_files import DamagedFileError, read_json

INDEX_VERSION = 5  # 5: a plan's row ends with archivedAt and parentPlanId, a run's with waitedMs
INDEX_LIMIT = 512 * 1024 * 1024  # the rows of 1,000,000 runs
QUIET_NS = 2_000_000_000  # the directory must have been still this long before a listing is trusted


class ListingIndex:
    """The cached listings of one state directory (``<state>/index/``), and a memo of the last quiet one."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._memo: dict[str, tuple[tuple[int, int, int], int, list[Any]]] = {}

    def refresh(self, directory_name: str, load: Callable[[Path], Any], summarize: Callable[[Any], Any],
                decode: Callable[[Any], Any] | None = None, full: bool = False) -> list[Any]:
        """Summaries of every record of ``kind``, without parsing records that did not change.

        The index is a cache in two files: ``<dir>.keys.json`` (each file's mtime, size and
        inode, and the directory's mtime) and ``<dir>.rows.json`` (the summaries, parsed in
        one pass). When the directory has not changed since a listing taken while it was
        quiet, the rows are used as they are; otherwise every file is stat'ed and only the
        changed ones are read. Missing, corrupt or mismatched index files are rebuilt.
        """
        kind = directory_name
        decode = decode or _as_is
        directory = self.state_dir / directory_name
        keys_path = self.state_dir / "index" / f"{directory_name}.keys.json"
        rows_path = self.state_dir / "index" / f"{directory_name}.rows.json"
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return []
        if not stat.S_ISDIR(info.st_mode):  # a link (to anywhere) or a file where the folder belongs
            raise DamagedFileError(directory, "it is not a folder of pmdesk's own (a link or a file stands there)")
        dir_mtime = info.st_mtime_ns
        rows_key = _stat_key(rows_path)
        memo = self._memo.get(kind)
        if memo is not None and not full and memo[0] == rows_key and memo[1] == dir_mtime:
            return list(memo[2])  # nothing changed since the last quiet listing in this process
        cached = _read_json(rows_path)
        head_ok = isinstance(cached, dict) and cached.get("version") == INDEX_VERSION
        if head_ok and not full and cached.get("dirMtimeNs") == dir_mtime and \
                dir_mtime < int(cached.get("listedAtNs", 0)) - QUIET_NS:
            try:
                decoded = [decode(row) for row in cached["rows"]]
            except (TypeError, ValueError, KeyError, IndexError):
                pass  # a damaged cache: rebuild below
            else:
                if rows_key is not None:
                    self._memo[kind] = (rows_key, dir_mtime, decoded)
                return list(decoded)
        listed_at = time.time_ns()
        previous: dict[str, tuple[list[int], Any]] = {}
        keys = _read_json(keys_path) if head_ok else None
        if isinstance(keys, dict) and keys.get("gen") == cached.get("gen") and \
                len(keys.get("names", ())) == len(cached.get("rows", ())):
            previous = {n: (k, r) for n, k, r in zip(keys["names"], keys.get("keys", []), cached["rows"], strict=False)}
        out_names: list[str] = []
        out_keys: list[list[int]] = []
        out_rows: list[Any] = []
        changed = not previous
        for entry in os.scandir(directory):
            name = entry.name
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            key = [st.st_mtime_ns, st.st_size, st.st_ino]
            known = previous.get(name)
            if known is not None and known[0] == key:
                summary = known[1]
            else:
                changed = True
                try:
                    summary = summarize(load(Path(entry.path)))
                except (StoreError, ValueError):  # a damaged record is quarantined by load() and left out
                    continue
            out_names.append(name)
            out_keys.append(key)
            out_rows.append(summary)
        trusted_before = head_ok and dir_mtime < int(cached.get("listedAtNs", 0)) - QUIET_NS
        if changed or len(out_names) != len(previous) or not head_ok or cached.get("dirMtimeNs") != dir_mtime \
                or not trusted_before:
            gen = uuid.uuid4().hex
            try:
                atomic_write_json(keys_path, {"gen": gen, "names": out_names, "keys": out_keys}, durable=False,
                                  indent=None)
                atomic_write_json(rows_path, {"version": INDEX_VERSION, "gen": gen, "dirMtimeNs": dir_mtime,
                                              "listedAtNs": listed_at, "rows": out_rows}, durable=False, indent=None)
            except OSError:
                pass  # a cache that cannot be written (a folder in its place, a full disk): list without it
        return [decode(row) for row in out_rows]

def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_json(path: Path) -> Any:
    """A cache file's JSON, or None for anything else: a damaged cache is rebuilt, never trusted."""
    try:
        return read_json(path, INDEX_LIMIT)
    except (OSError, StoreError):
        return None


def _as_is(row: Any) -> Any:
    return row
