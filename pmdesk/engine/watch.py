"""What other pmdesk processes change (the CLI, ``pmdesk serve``), told as if this one had.

The operating system's file notifications (inotify here, by ``watchfiles``) on each project's
``runs``, ``plans`` and ``inspection-packets`` folders and on the registry's folder: no file
is polled. Records are written by atomic rename, so one notification is one whole record.
A record is published only when it is newer than what this process last published of it,
so this process's own writes (published already) and a late notification never take the
window back to an older state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from pmdesk.engine.context import EngineContext
from pmdesk.engine.notifications import Change, PacketAdded, PlanChanged, ProjectsChanged, RunChanged
from pmdesk.errors import PmdeskError
from pmdesk.models import Project
from pmdesk.store import StoreError
from pmdesk.store.summaries import summarize_packet

log = logging.getLogger(__name__)

WATCHED = {"runs": "run", "plans": "plan", "inspection-packets": "packet"}
STEP_MS = 30  # a burst of writes is gathered until it has been still this long…
DEBOUNCE_MS = 300  # …but never held longer than this
JOIN_S = 0.5  # a stopped watcher ends within a step; this only bounds a stuck one
RETRY_S = 1.0


class StateWatcher:
    """Started on the engine's loop (``start``), stopped with ``stop``; safe to stop twice."""

    def __init__(self, ctx: EngineContext, projects: Callable[[], list[Project]]) -> None:
        self.ctx = ctx
        self.projects = projects
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._paths: dict[Path, Project | None] = {}  # each watched folder → its project (None: the registry's)
        self._newest: dict[str, str] = {}  # record id → the newest updatedAt published here
        self._packets: set[str] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self.seen = 0  # records told from other processes (for tests and the benchmark)

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._unsubscribe = self.ctx.bus.subscribe(self._note_published)
        self._watch(self._folders())

    def stop(self) -> None:
        """The watching thread sees its stop within a step (~20 ms) and tells nothing more."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._end_thread()

    def _end_thread(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_S)
        self._thread = None

    # -- what is watched ---------------------------------------------------------------------------

    def _folders(self) -> dict[Path, Project | None]:
        folders: dict[Path, Project | None] = {self.ctx.registry.directory: None}
        try:
            projects = self.projects()
        except PmdeskError:
            projects = []  # a damaged registry: its folder is still watched, for when it is mended
        for project in projects:
            state = self.ctx.store(project).state_dir if Path(project.path).is_dir() else None
            if state is not None:
                with contextlib.suppress(OSError):  # a folder made later would go unwatched until a restart
                    self.ctx.store(project).ensure_layout()
            for name in WATCHED:
                if state is not None and (state / name).is_dir():
                    folders[state / name] = project
        return folders

    def _watch(self, folders: dict[Path, Project | None]) -> None:
        """(Re)start the watching thread on ``folders``."""
        self._end_thread()
        self._paths, self._stop = folders, threading.Event()
        self._thread = threading.Thread(target=self._watching, args=(list(folders), self._stop),
                                        name="pmdesk-watch", daemon=True)
        self._thread.start()

    def _watching(self, paths: list[Path], stop: threading.Event) -> None:
        try:
            from watchfiles import watch  # its native part loads here, never on the loop's thread
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            log.warning("not watching other processes' changes: %s", exc)
            return
        try:
            for batch in watch(*paths, watch_filter=None, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop,
                               recursive=False, raise_interrupt=False, rust_timeout=1000):
                changed = {Path(path) for _kind, path in batch}
                self._tell(stop, self._publish, self._load(changed), stop)
        except (OSError, RuntimeError) as exc:  # a folder vanished: watch again what is left
            log.info("watching state folders: %s", exc)
            self._tell(stop, self._retry_soon, stop)

    def _tell(self, stop: threading.Event, callback: Callable[..., None], *args: object) -> None:
        """Hand over to the loop, unless the watcher stopped or the loop is gone."""
        loop = self.loop
        if loop is None or stop.is_set() or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            loop.call_soon_threadsafe(callback, *args)

    # -- reading what changed (on the watching thread) ----------------------------------------------

    def _load(self, changed: Iterable[Path]) -> list[Change | None]:
        """The records behind the changed files; None for a change of the registry."""
        out: list[Change | None] = []
        for path in changed:
            if path.parent not in self._paths:
                continue
            project = self._paths[path.parent]
            if project is None:
                if path.name == self.ctx.registry.path.name:
                    out.append(None)
                continue
            if path.suffix != ".json" or path.name.startswith("."):
                continue
            kind = WATCHED.get(path.parent.name)
            try:
                found = self._read(project, kind, path.stem)
            except (StoreError, PmdeskError, OSError, ValueError):
                continue  # removed again, or damaged (the store sets it aside and says so)
            if found is not None:
                out.append(found)
        return out

    def _read(self, project: Project, kind: str | None, item_id: str) -> Change | None:
        store = self.ctx.store(project)
        if kind == "run" and store.contains("run", item_id):
            return RunChanged(project.project_id, store.get_run(item_id))
        if kind == "plan" and store.contains("plan", item_id):
            return PlanChanged(project.project_id, store.get_plan(item_id))
        if kind == "packet" and item_id not in self._packets and store.has_packet(item_id):
            return PacketAdded(project.project_id, summarize_packet(store.get_packet(item_id)))
        return None

    # -- telling (on the loop) -------------------------------------------------------------------

    @staticmethod
    def _stamp(change: Change) -> tuple[str, str] | None:
        """A run's or plan's id and when it was written (None for other changes)."""
        if isinstance(change, RunChanged):
            return change.run.run_id, change.run.updated_at
        if isinstance(change, PlanChanged):
            return change.plan.plan_id, change.plan.updated_at
        return None

    def _note_published(self, change: Change) -> None:
        """Whatever anyone publishes here is the newest this process knows of that record."""
        stamp = self._stamp(change)
        if stamp is not None:
            item_id, written = stamp
            self._newest[item_id] = max(written, self._newest.get(item_id, ""))
        elif isinstance(change, PacketAdded):
            self._packets.add(change.packet["packetId"])

    def _publish(self, loaded: list[Change | None], stop: threading.Event) -> None:
        if stop.is_set():
            return
        for change in loaded:
            if change is None:
                self.ctx.bus.publish(ProjectsChanged())
                self._rewatch(stop)
                continue
            if self._is_fresh(change):
                self.seen += 1
                self.ctx.bus.publish(change)  # _note_published records it as the newest

    def _is_fresh(self, change: Change) -> bool:
        stamp = self._stamp(change)
        if stamp is not None:
            return stamp[1] > self._newest.get(stamp[0], "")
        return isinstance(change, PacketAdded) and change.packet["packetId"] not in self._packets

    def _retry_soon(self, stop: threading.Event) -> None:
        """After an error, a second later: a folder that keeps failing is not retried in a spin."""
        if self.loop is not None and not stop.is_set():
            self.loop.call_later(RETRY_S, self._rewatch, stop, True)

    def _rewatch(self, stop: threading.Event, failed: bool = False) -> None:
        """The registry changed (projects may have come or gone, so may their folders), or the
        watching thread ended on an error: watch what there is now."""
        if stop.is_set() or self._unsubscribe is None:
            return
        folders = self._folders()
        if failed or set(folders) != set(self._paths):
            with contextlib.suppress(RuntimeError):
                self._watch(folders)
