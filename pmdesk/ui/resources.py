"""The window's theme and icon, from the project's one ``resources/`` folder.

A wheel and the bundle carry that folder as package data, ``pmdesk/resources/``
(pyproject.toml maps it there, packaging/pmdesk.spec copies it); a checkout and an
editable install read it where it lies, beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def resources_dir() -> Path:
    packaged = _PACKAGE / "resources"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "resources"


def path(name: str) -> Path:
    return resources_dir() / name
