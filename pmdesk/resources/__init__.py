"""Theme and icons shipped with pmdesk."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent


def path(name: str) -> Path:
    return RESOURCES / name
