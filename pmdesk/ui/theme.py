"""Light and dark: the palettes the style sheet's ``@names`` stand for, and which one applies.

The scheme follows the system (``QStyleHints.colorScheme``) unless the user chose one in
Settings. Qt's own palette is set too, so menus, inputs and scroll bars match the sheet.
"""

from __future__ import annotations

import re
from enum import StrEnum

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from pmdesk.ui.resources import path as resource


class Scheme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


LIGHT = {
    "window": "#f8fafc", "text": "#0f172a", "base": "#ffffff", "alt": "#f8fafc", "grid": "#e2e8f0",
    "select": "#dbeafe", "header": "#f1f5f9", "header_text": "#475569", "log": "#0f172a", "log_text": "#e2e8f0",
    "button": "#ffffff", "border": "#cbd5e1", "hover": "#f1f5f9", "disabled": "#94a3b8", "primary": "#2563eb",
    "primary_hover": "#1d4ed8", "danger": "#b91c1c", "danger_border": "#fca5a5", "muted": "#64748b",
    "section": "#334155", "empty": "#475569", "pill": "#e2e8f0", "pill_text": "#334155",
    "running_bg": "#dbeafe", "running_text": "#1e40af", "error_bg": "#fee2e2", "error_text": "#991b1b",
    "banner": "#fff7ed", "banner_border": "#fdba74", "banner_text": "#9a3412", "question": "#fffbeb",
    "question_border": "#fcd34d", "card": "#eff6ff", "card_border": "#93c5fd",
    "badge_fill": "#fef3c7", "badge_text": "#92400e",  # the spec's colours
    "ok": "#15803d", "bad": "#b91c1c", "busy": "#1d4ed8", "waiting": "#92400e", "quiet": "#64748b",
    "mark": "#fde68a", "mark_text": "#111827",  # a search hit
}
DARK = {
    "window": "#0b1220", "text": "#e2e8f0", "base": "#111a2e", "alt": "#0f172a", "grid": "#1e293b",
    "select": "#1e3a8a", "header": "#16213a", "header_text": "#94a3b8", "log": "#060b16", "log_text": "#e2e8f0",
    "button": "#16213a", "border": "#334155", "hover": "#1e293b", "disabled": "#64748b", "primary": "#2563eb",
    "primary_hover": "#3b82f6", "danger": "#f87171", "danger_border": "#7f1d1d", "muted": "#94a3b8",
    "section": "#cbd5e1", "empty": "#94a3b8", "pill": "#1e293b", "pill_text": "#cbd5e1",
    "running_bg": "#1e3a8a", "running_text": "#bfdbfe", "error_bg": "#450a0a", "error_text": "#fecaca",
    "banner": "#2a1606", "banner_border": "#9a3412", "banner_text": "#fed7aa", "question": "#271a05",
    "question_border": "#a16207", "card": "#0c1a33", "card_border": "#1d4ed8",
    "badge_fill": "#78350f", "badge_text": "#fef3c7",  # the badge's amber, legible on a dark window
    "ok": "#4ade80", "bad": "#f87171", "busy": "#93c5fd", "waiting": "#fcd34d", "quiet": "#94a3b8",
    "mark": "#a16207", "mark_text": "#fef9c3",
}
_current: dict[str, str] = LIGHT
THEME_KEY = "ui/theme"  # system | light | dark: a preference of this window, kept by Qt


def colors() -> dict[str, str]:
    """The palette in use now (status text colours read it when they paint)."""
    return _current


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)  # Qt 6.5+
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def resolve(choice: str | None) -> Scheme:
    """System, light or dark → the scheme to paint now (an unknown word: the system's)."""
    try:
        scheme = Scheme(choice or Scheme.SYSTEM)
    except ValueError:
        scheme = Scheme.SYSTEM
    if scheme == Scheme.SYSTEM:
        return Scheme.DARK if system_is_dark() else Scheme.LIGHT
    return scheme


def stylesheet(scheme: Scheme) -> str:
    palette = DARK if scheme == Scheme.DARK else LIGHT
    sheet = re.sub(r"/\*.*?\*/", "", resource("pmdesk.qss").read_text(encoding="utf-8"), flags=re.DOTALL)
    return re.sub(r"@([a-z_]+)", lambda m: palette[m.group(1)], sheet)


def qt_palette(scheme: Scheme) -> QPalette:
    c = DARK if scheme == Scheme.DARK else LIGHT
    palette = QPalette()
    role = QPalette.ColorRole
    for which, name in ((role.Window, "window"), (role.WindowText, "text"), (role.Base, "base"),
                        (role.AlternateBase, "alt"), (role.Text, "text"), (role.Button, "button"),
                        (role.ButtonText, "text"), (role.Highlight, "primary"), (role.ToolTipBase, "base"),
                        (role.ToolTipText, "text"), (role.PlaceholderText, "muted"), (role.Mid, "border"),
                        (role.Light, "hover"), (role.Dark, "grid"), (role.Link, "busy")):
        palette.setColor(which, QColor(c[name]))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    for which in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, which, QColor(c["disabled"]))
    return palette


def apply(app: QApplication, choice: str | None = None) -> Scheme:
    """Paint the application in ``choice`` (system, light or dark); returns the scheme painted."""
    global _current
    scheme = resolve(choice)
    _current = DARK if scheme == Scheme.DARK else LIGHT
    app.setStyle("Fusion")  # the one style whose every part follows the palette
    app.setPalette(qt_palette(scheme))
    app.setStyleSheet(stylesheet(scheme))
    app.setProperty("pmdeskScheme", scheme.value)
    return scheme


def saved_choice() -> str:
    return str(QSettings().value(THEME_KEY, Scheme.SYSTEM.value))


def apply_saved(app: QApplication, choice: str | None = None) -> Scheme:
    """The saved (or given) scheme; with "system", later changes of the desktop's are followed."""
    if choice is not None:
        QSettings().setValue(THEME_KEY, choice)
    painted = apply(app, choice if choice is not None else saved_choice())
    if not app.property("pmdeskFollowsSystem"):
        app.setProperty("pmdeskFollowsSystem", True)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _scheme: apply(app, saved_choice()))
    return painted
