"""The API's bearer token: created once, 0600, in the user's config directory."""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from pmdesk.config import config_dir
from pmdesk.store.safe_files import DamagedFileError, read_bytes, set_private_mode

TOKEN_FILE = "api-token"
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}")


def token_path() -> Path:
    return config_dir() / TOKEN_FILE


def load_or_create_token(path: Path | None = None) -> str:
    """The saved token, or a new one written with O_EXCL so two servers never race to two tokens."""
    path = path or token_path()
    for _ in range(2):
        try:
            value = read_bytes(path, 4096).decode("utf-8", errors="replace").strip()
        except FileNotFoundError:
            value = ""
        except DamagedFileError as exc:  # a link, a FIFO, a folder: never followed, never chmod'ed through
            raise DamagedFileError(path, exc.reason, "remove it; pmdesk then makes a new token") from None
        if value:
            if not TOKEN_SHAPE.fullmatch(value):
                raise DamagedFileError(path, "it does not hold a token (16 or more of A-Z a-z 0-9 - _)",
                                       "remove it; pmdesk then makes a new token")
            set_private_mode(path)  # someone may have loosened it; the token is a password
            return value
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # another process is writing it right now, or it was empty: read again
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            token = secrets.token_urlsafe(32)
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return token
    path.unlink(missing_ok=True)  # an empty file left by a crash
    return load_or_create_token(path)


def token_matches(expected: str, header: str | None) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not header or not header.startswith("Bearer ") or not header.isascii():
        return False  # a token is ASCII; a header with other bytes is simply not it
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())
