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
from pmdesk.store.tally import Tally

INDEX_VERSION = 6  # 5: a plan's row ends with archivedAt and parentPlanId, a run's with waitedMs; 6: and node
INDEX_LIMIT = 512 * 1024 * 1024  # the rows of 1,000,000 runs
QUIET_NS = 2_000_000_000  # the directory must have been still this long before a listing is trusted


class ListingIndex:
    """The cached listings of one state directory (``<state>/index/``), and a memo of the last quiet one."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._memo: dict[str, tuple[tuple[int, int, int], int, list[Any]]] = {}
        self._tallies: dict[str, tuple[tuple[int, int, int] | None, int, int, Any]] = {}  # key, mtime, listed, tally
        self._tally_paths: dict[str, tuple[str, str]] = {}

    def tally(self, directory_name: str, load: Callable[[Path], Any], summarize: Callable[[Any], Any],
              decode: Callable[[Any], Any], kind: type[Tally]) -> Any:
        """The kept summary of a listing: a stat of the folder and of a small file when the folder
        has been quiet since it was kept (files written by another tool: one listing rebuilds it)."""
        paths = self._tally_paths.get(directory_name)
        if paths is None:  # as strings, made once: a dashboard of 50 projects asks for 100 tallies
            paths = self._tally_paths[directory_name] = (
                str(self.state_dir / directory_name), str(self.state_dir / "index" / f"{directory_name}.tally.json"))
        directory, path = paths
        try:
            dir_mtime = os.lstat(directory).st_mtime_ns
        except FileNotFoundError:
            return kind.build([])
        key = _stat_key(path)
        known = self._tallies.get(directory_name)
        if known is not None and key is not None and known[0] == key and known[1] == dir_mtime and \
                dir_mtime < known[2] - QUIET_NS:
            return known[3]
        kept = _read_json(Path(path))
        if isinstance(kept, dict) and kept.get("version") == [INDEX_VERSION, kind.VERSION] and \
                kept.get("dirMtimeNs") == dir_mtime and dir_mtime < int(kept.get("listedAtNs", 0)) - QUIET_NS:
            try:
                found = kind.from_json(kept["tally"])
            except (TypeError, ValueError, KeyError, IndexError, AttributeError):
                pass  # damaged: rebuilt by the listing below
            else:
                self._tallies[directory_name] = (key, dir_mtime, int(kept["listedAtNs"]), found)
                return found
        self.refresh(directory_name, load, summarize, decode, tally=kind)
        kept_now = self._tallies.get(directory_name)
        return kept_now[3] if kept_now is not None else kind.build([])

    def kept_unchanged(self, directory_name: str) -> int | None:
        """The folder's mtime when the tally this process holds is still the trusted one (the
        folder quiet since it was kept, so no record changed); None when only ``tally`` can tell.
        One stat: the tally file needs none, as it only ever follows the folder."""
        known = self._tallies.get(directory_name)
        paths = self._tally_paths.get(directory_name)
        if known is None or paths is None:
            return None
        try:
            dir_mtime = os.lstat(paths[0]).st_mtime_ns
        except OSError:
            return None
        if known[1] != dir_mtime or dir_mtime >= known[2] - QUIET_NS:
            return None
        return dir_mtime

    def refresh(self, directory_name: str, load: Callable[[Path], Any], summarize: Callable[[Any], Any],
                decode: Callable[[Any], Any] | None = None, full: bool = False,
                tally: type[Tally] | None = None, keep: bool = True) -> list[Any]:
        """Summaries of every record of ``kind``, without parsing records that did not change.

        The index is a cache in two files: ``<dir>.keys.json`` (each file's mtime, size and
        inode, and the directory's mtime) and ``<dir>.rows.json`` (the summaries, parsed in
        one pass). When the directory has not changed since a listing taken while it was
        quiet, the rows are used as they are; otherwise every file is stat'ed and only the
        changed ones are read. Missing, corrupt or mismatched index files are rebuilt.
        ``keep=False``: a listing read once (the search index's catch-up of a quiet project) is not
        held in memory for the next; 2,000 runs' summaries are about 1 MiB, 50 projects' 50.
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
        if memo is not None and not full and memo[0] == rows_key and memo[1] == dir_mtime and \
                (tally is None or self._tallies.get(kind, (None, None))[1] == dir_mtime):
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
                if rows_key is not None and (keep or kind in self._memo):
                    self._memo[kind] = (rows_key, dir_mtime, decoded)
                if tally is not None:
                    head = {k: cached.get(k) for k in ("version", "gen", "dirMtimeNs", "listedAtNs")}
                    self._keep_tally(kind, tally, head, decoded, None)
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
        gone: list[Any] = []  # the rows of files changed or gone since, and of those changed or new
        came: list[Any] = []
        seen: set[str] = set()  # files of the last listing still here
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
            if known is not None:
                seen.add(name)
            if known is not None and known[0] == key:
                summary = known[1]
            else:
                changed = True
                try:
                    summary = summarize(load(Path(entry.path)))
                except (StoreError, ValueError):  # a damaged record is quarantined by load() and left out
                    summary = None
                if known is not None:
                    gone.append(known[1])
                if summary is None:
                    continue
                came.append(summary)
            out_names.append(name)
            out_keys.append(key)
            out_rows.append(summary)
        if len(seen) != len(previous):  # files gone since: their rows go too
            gone.extend(row for name, (_key, row) in previous.items() if name not in seen)
        trusted_before = head_ok and dir_mtime < int(cached.get("listedAtNs", 0)) - QUIET_NS
        head = {"version": INDEX_VERSION, "gen": cached.get("gen") if head_ok else None, "dirMtimeNs": dir_mtime,
                "listedAtNs": listed_at}
        if changed or len(out_names) != len(previous) or not head_ok or cached.get("dirMtimeNs") != dir_mtime \
                or not trusted_before:
            head["gen"] = uuid.uuid4().hex
            try:
                atomic_write_json(keys_path, {"gen": head["gen"], "names": out_names, "keys": out_keys},
                                  durable=False, indent=None)
                atomic_write_json(rows_path, {**head, "rows": out_rows}, durable=False, indent=None)
            except OSError:
                pass  # a cache that cannot be written (a folder in its place, a full disk): list without it
        decoded = [decode(row) for row in out_rows]
        if tally is not None:
            delta = ([decode(r) for r in gone], [decode(r) for r in came]) if previous else None
            self._keep_tally(kind, tally, head, decoded, delta, cached.get("gen") if head_ok else None)
        return decoded

    def _keep_tally(self, kind: str, tally: type[Tally], head: dict[str, Any], rows: list[Any],
                    delta: tuple[list[Any], list[Any]] | None, previous_gen: Any = None) -> None:
        """The tally of these rows: the kept one updated by ``delta`` when it matches the rows
        the delta starts from (``previous_gen``), else counted from every row; written beside them."""
        path = self.state_dir / "index" / f"{kind}.tally.json"
        version = [INDEX_VERSION, tally.VERSION]
        kept = _read_json(path)
        found: Any = None
        unchanged = False
        if isinstance(kept, dict) and kept.get("version") == version:
            wanted = previous_gen if delta is not None else head.get("gen")
            same_rows = delta is not None or kept.get("dirMtimeNs") == head.get("dirMtimeNs")
            if wanted is not None and kept.get("gen") == wanted and same_rows:
                try:
                    found = tally.from_json(kept["tally"])
                except (TypeError, ValueError, KeyError, IndexError, AttributeError):
                    found = None
                unchanged = found is not None and all(kept.get(k) == head.get(k) for k in ("gen", "dirMtimeNs",
                                                                                           "listedAtNs"))
                if found is not None and delta is not None and not found.update(*delta):
                    found, unchanged = None, False
                unchanged = unchanged and not (delta and (delta[0] or delta[1]))
        if found is None:
            found = tally.build(rows)
        if not unchanged:
            try:
                atomic_write_json(path, {**head, "version": version, "tally": found.to_json()}, durable=False,
                                  indent=None)
            except OSError:
                pass  # kept in this process only
        self._tallies[kind] = (_stat_key(path), int(head["dirMtimeNs"]), int(head["listedAtNs"]), found)

def _stat_key(path: Path | str) -> tuple[int, int, int] | None:
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
