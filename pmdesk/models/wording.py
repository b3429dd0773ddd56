"""How pmdesk writes a timestamp's age, a cost, a check mark: once, for the window, CLI and API."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

UNKNOWN = "unknown"
EXECUTOR_NAMES = {"claude_code": "Claude Code", "anthropic_agent": "Embedded agent", "command": "Command",
                  "gate": "Gate"}


def executor_name(kind: object) -> str:
    """What a person reads for an executor: "Claude Code", not ``claude_code``."""
    value = str(getattr(kind, "value", kind))
    return EXECUTOR_NAMES.get(value, value)


class _Check(Protocol):
    @property
    def passed(self) -> bool: ...
    @property
    def skipped(self) -> bool | None: ...


def parse_ts(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp as the spec writes them (``Z`` or an offset); None if it is not one."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_ms(start: str | None, end: str | None) -> int | None:
    a, b = parse_ts(start), parse_ts(end)
    if a is None or b is None:
        return None
    return int((b - a).total_seconds() * 1000)


def cost_text(usd: float | None) -> str:
    """A cost in dollars, to the cent from a dollar up and to a hundredth of a cent below;
    "unknown" where no price is known (never $0)."""
    if usd is None:
        return UNKNOWN
    return f"${usd:.2f}" if abs(usd) >= 1 else f"${usd:.4f}"


def mark(passed: bool, skipped: bool = False) -> str:
    """✓ passed, ✗ failed, – skipped: the same marks in the log, the window and the CLI."""
    return "–" if skipped else ("✓" if passed else "✗")


def check_mark(check: _Check) -> str:
    return mark(check.passed, bool(check.skipped))


def short(text: str | None, n: int = 60) -> str:
    """One line of at most ``n`` characters, with an ellipsis where it was cut."""
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def size_text(n: float) -> str:
    """Bytes as people read them: 512 B, 3.4 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
