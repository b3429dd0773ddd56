"""App settings and secrets, in the user's config dir (platformdirs, XDG honoured).

The API key lives in the system keyring when one works, else in a 0600 file; it is never
written into a project's state directory.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from platformdirs import PlatformDirs
from pydantic import Field, ValidationError

from pmdesk.models import ExecutorKind, Model
from pmdesk.store.atomic import atomic_write_json
from pmdesk.store.errors import StoreError
from pmdesk.store.safe_files import DamagedFileError, read_json

APP_NAME = "pmdesk"
DEFAULT_MODEL = "claude-sonnet-4-6"
KEYRING_SERVICE = "pmdesk"
KEYRING_USER = "anthropic-api-key"


def dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, appauthor=False)


def config_dir() -> Path:
    path = Path(dirs().user_config_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    path = Path(dirs().user_data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


class AppSettings(Model):
    default_model: str = DEFAULT_MODEL
    default_executor: ExecutorKind | None = None
    claude_path: str | None = None
    concurrency: int = Field(default=3, ge=1, le=32)
    max_turns: int = Field(default=40, ge=1, le=500)
    max_tokens_per_run: int = Field(default=400_000, ge=1000)
    command_timeout_s: int = Field(default=600, ge=1)
    api_server_enabled: bool = False
    api_port: int = Field(default=8765, ge=1, le=65535)


def settings_path() -> Path:
    return config_dir() / "settings.json"


_settings_problem: list[str] = []  # why the saved settings could not be used, if they could not


def load_settings() -> AppSettings:
    """The saved settings. A damaged file is left in place (and said so in ``settings_problem``):
    the defaults stand in for it until the user saves, and saving keeps a copy of it first."""
    path = settings_path()
    _settings_problem.clear()
    try:
        return AppSettings.model_validate(read_json(path))
    except FileNotFoundError:
        return AppSettings()
    except DamagedFileError as exc:
        reason = exc.reason
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = f"{'.'.join(str(p) for p in first.get('loc', ())) or 'file'}: {first['msg']}"
    _settings_problem.append(f"{path}: {reason}; the defaults are used until you save Settings "
                             "(a copy of the damaged file is kept then)")
    return AppSettings()


def settings_problem() -> str | None:
    return _settings_problem[0] if _settings_problem else None


def save_settings(settings: AppSettings) -> None:
    path = settings_path()
    if _settings_problem:  # the user saves over a damaged file: keep what it held
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(f"{path.name}.damaged-{stamp}"))
        _settings_problem.clear()
    atomic_write_json(path, settings.to_json_dict())


# -- secrets -----------------------------------------------------------------------------


def _secrets_file() -> Path:
    return config_dir() / "secrets.json"


def _keyring_enabled() -> bool:
    return os.environ.get("PMDESK_NO_KEYRING", "") not in ("1", "true")


_keyring_cache: list[str | None] = []  # one lookup per process: a desktop keyring is a D-Bus round trip


def _keyring_get() -> str | None:
    if not _keyring_enabled():
        return None
    if _keyring_cache:
        return _keyring_cache[0]
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception:  # any backend failure means: no keyring here
        value = None
    _keyring_cache[:] = [value]
    return value


def _keyring_set(value: str | None) -> bool:
    if not _keyring_enabled():
        return False
    try:
        import keyring

        if value is None:
            _keyring_cache[:] = [None]
            try:
                keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
            except Exception:
                pass
            return True
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, value)
        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        _keyring_cache[:] = [stored]
        return stored == value
    except Exception:
        return False


def saved_api_key() -> str | None:
    key = _keyring_get()
    if key:
        return key
    try:
        value = read_json(_secrets_file(), 64 * 1024).get("anthropicApiKey")
    except (OSError, StoreError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def save_api_key(value: str | None) -> str:
    """Store the key; returns where it went ("keyring" or the file path)."""
    value = (value or "").strip() or None
    if _keyring_set(value):
        _write_secret_file(None)
        return "keyring"
    _write_secret_file(value)
    return str(_secrets_file())


def _write_secret_file(value: str | None) -> None:
    path = _secrets_file()
    if value is None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    atomic_write_json(path, {"anthropicApiKey": value}, mode=0o600)


def api_key() -> str | None:
    """A key saved in Settings wins over ANTHROPIC_API_KEY."""
    return saved_api_key() or os.environ.get("ANTHROPIC_API_KEY") or None


def api_base_url() -> str | None:
    return os.environ.get("ANTHROPIC_BASE_URL") or None
