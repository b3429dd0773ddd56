"""The app-level list of registered projects, in the user's config dir."""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Project, project_id_for_path
from pmdesk.store.atomic import atomic_write_json
from pmdesk.store.safe_files import DamagedFileError, read_json
from pmdesk.store.state_store import StateStore, state_dir_for


class RegistryError(PmdeskError, ValueError):
    """A user-facing problem with a project reference or a path."""

    kind = ErrorKind.BAD_INPUT
    code = "invalid_project"


class UnknownProjectError(RegistryError):
    """No registered project answers to this reference (HTTP 404)."""

    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class AlreadyRegisteredError(RegistryError):
    """The folder is registered already (HTTP 409)."""

    kind = ErrorKind.CONFLICT
    code = "already_registered"


class NestedProjectError(RegistryError):
    """The folder is inside a registered project, or holds one (HTTP 409)."""

    kind = ErrorKind.CONFLICT
    code = "nested_project"

    def __init__(self, message: str, project: Project) -> None:
        super().__init__(message)
        self.project = project


def nesting(folder: Path, project: Path) -> str | None:
    """How ``folder`` and a registered project's folder overlap, in words (None: they do not)."""
    try:
        project = Path(os.path.realpath(project))
    except OSError:
        return None
    if folder != project and folder.is_relative_to(project):
        return "is inside the project"
    if folder != project and project.is_relative_to(folder):
        return "holds the project"
    return None


class RegistryDamagedError(DamagedFileError):
    """The registry cannot be read as a list of projects; it is kept and never written over."""


ADVICE = ("it is kept as it was and pmdesk will not write over it: repair it (JSON: {\"version\": 1, "
          "\"projects\": [...]}) or move it aside to start with no projects")


class ProjectRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = self.directory / "projects.json"
        self._lock = FileLock(str(self.directory / "projects.lock"), timeout=30, is_singleton=False)
        self.damage: str | None = None  # entries that are not projects: they are kept, writes are refused
        self._seen: tuple[tuple[int, int, int], list[Project], str | None] | None = None

    def _read(self) -> list[Project]:
        """The projects, parsed again only when the file changed (a dashboard asks often)."""
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        key = (st.st_mtime_ns, st.st_size, st.st_ino) if st is not None else None
        if key is not None and self._seen is not None and self._seen[0] == key:
            self.damage = self._seen[2]
            return list(self._seen[1])
        projects = self._parse()
        self._seen = (key, projects, self.damage) if key is not None else None
        return list(projects)

    def _parse(self) -> list[Project]:
        try:
            raw = read_json(self.path)
        except FileNotFoundError:
            return []
        except DamagedFileError as exc:
            raise RegistryDamagedError(self.path, exc.reason, ADVICE) from None
        items = raw.get("projects") if isinstance(raw, dict) else None
        if not isinstance(items, list):
            raise RegistryDamagedError(self.path, "it does not hold a list of projects", ADVICE)
        projects: list[Project] = []
        for item in items:
            try:
                projects.append(Project.model_validate(item))
            except ValidationError:
                continue
        bad = len(items) - len(projects)
        self.damage = f"{bad} of its {len(items)} entries are not projects" if bad else None
        return projects

    @property
    def problem(self) -> str | None:
        """What is wrong with the registry as last read, and what to do; None when nothing is."""
        return f"{self.path}: {self.damage}; {ADVICE}" if self.damage else None

    def _writable(self) -> list[Project]:
        """The projects, read under the lock, when the file may be written over without losing any."""
        projects = self._parse()  # never the memo: a write must start from what is on disk
        if self.damage:
            raise RegistryDamagedError(self.path, self.damage, ADVICE)
        return projects

    def _write(self, projects: list[Project]) -> None:
        atomic_write_json(self.path, {"version": 1, "projects": [p.to_json_dict() for p in projects]})

    def list(self) -> list[Project]:
        return self._read()

    def add(self, path: str | os.PathLike[str], name: str | None = None) -> Project:
        if "\x00" in os.fspath(path) or (name is not None and "\x00" in name):
            raise RegistryError("a path or name with a NUL byte cannot name a folder")
        real = Path(os.path.realpath(os.path.expanduser(os.fspath(path))))
        if not real.exists():
            raise RegistryError(f"{path}: no such folder")
        if not real.is_dir():
            raise RegistryError(f"{path}: not a folder")
        project_id = project_id_for_path(real)
        with self._lock:
            projects = self._writable()
            for existing in projects:
                if existing.project_id == project_id:
                    raise AlreadyRegisteredError(f"{real} is already registered as {existing.name!r} ({project_id})")
                clash = nesting(real, Path(existing.path))
                if clash:
                    raise NestedProjectError(f"{real} {clash} {existing.name!r} ({existing.path}); two projects "
                                             "would share files and state. Open that project instead, or remove it "
                                             "first", existing)
            display = (name or real.name or str(real)).strip()
            if not display:
                raise RegistryError("a project needs a name")
            project = Project(project_id=project_id, name=display, path=str(real))
            store = StateStore(state_dir_for(real), project_id)
            store.ensure_layout()
            try:
                saved = store.get_project()
                project.settings = saved.settings  # keep settings of an earlier registration
            except Exception:
                pass
            store.put_project(project)
            projects.append(project)
            self._write(projects)
        return project

    def where_would_land(self, path: str | os.PathLike[str]) -> tuple[str, Project | None]:
        """What adding ``path`` would do, for a drop target to show before the drop: "new",
        "registered" (that project), "inside" or "contains" (the project it would clash with)."""
        real = Path(os.path.realpath(os.path.expanduser(os.fspath(path))))
        for existing in self.list():
            if existing.project_id == project_id_for_path(real):
                return "registered", existing
            clash = nesting(real, Path(existing.path))
            if clash:
                return ("inside" if clash.startswith("is inside") else "contains"), existing
        return "new", None

    def resolve(self, ref: str) -> Project:
        """A project by id, by name, or by path."""
        projects = self._read()
        for project in projects:
            if project.project_id == ref:
                return project
        named = [p for p in projects if p.name == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise RegistryError(f"several projects are named {ref!r}; use the id or the path")
        real = os.path.realpath(os.path.expanduser(ref)) if "\x00" not in ref else ""
        for project in projects:
            if project.path == real:
                return project
        raise UnknownProjectError(f"no registered project {ref!r} (see 'pmdesk project list')")

    def remove(self, ref: str) -> Project:
        with self._lock:
            project = self.resolve(ref)
            self._write([p for p in self._writable() if p.project_id != project.project_id])
        return project

    def update(self, project: Project) -> None:
        with self._lock:
            projects = [project if p.project_id == project.project_id else p for p in self._writable()]
            self._write(projects)
