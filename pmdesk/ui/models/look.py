"""How a status looks in a table: an icon whose shape says it (never colour alone) and a text
colour of the palette in use. Icons are SVG, crisp at any scale."""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtGui import QColor, QIcon

from pmdesk.ui import theme
from pmdesk.ui.resources import path as resource

# status value → (icon, palette colour)
LOOKS: dict[str, tuple[str, str]] = {
    "COMPLETE": ("complete", "ok"), "VERIFIED": ("complete", "ok"),
    "ERROR": ("error", "bad"), "FAILED": ("error", "bad"), "error": ("error", "bad"),
    "RUNNING": ("running", "busy"), "DISPATCHING": ("running", "busy"), "VERIFYING": ("running", "busy"),
    "running": ("running", "busy"),
    "AWAITING_RESPONSE": ("waiting", "waiting"), "needs_response": ("waiting", "waiting"),
    "QUEUED": ("queued", "quiet"), "CREATED": ("queued", "quiet"), "DRAFT": ("queued", "quiet"),
    "CANCELLED": ("cancelled", "quiet"), "idle": ("idle", "quiet"), "missing": ("missing", "quiet"),
}


def _value(status: Any) -> str:
    return str(getattr(status, "value", status))


@cache
def _icon(name: str) -> QIcon:
    return QIcon(str(resource(f"status-{name}.svg")))


def status_icon(status: Any) -> QIcon | None:
    look = LOOKS.get(_value(status))
    return _icon(look[0]) if look else None


def status_color(status: Any) -> QColor | None:
    look = LOOKS.get(_value(status))
    return QColor(theme.colors()[look[1]]) if look else None
