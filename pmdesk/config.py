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
CLUSTER_TOKEN_USER = "ray-cluster-token"


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
    cluster: str | None = None  # where plans' runs execute by default: a Ray cluster (ray://HOST:PORT), or here
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


_keyring_cache: dict[str, str | None] = {}  # one lookup per secret and process: a D-Bus round trip each


def _keyring_get(user: str = KEYRING_USER) -> str | None:
    if not _keyring_enabled():
        return None
    if user in _keyring_cache:
        return _keyring_cache[user]
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # any backend failure means: no keyring here
        value = None
    _keyring_cache[user] = value
    return value


def _keyring_set(value: str | None, user: str = KEYRING_USER) -> bool:
    if not _keyring_enabled():
        return False
    try:
        import keyring

        if value is None:
            _keyring_cache[user] = None
            try:
                keyring.delete_password(KEYRING_SERVICE, user)
            except Exception:
                pass
            return True
        keyring.set_password(KEYRING_SERVICE, user, value)
        stored = keyring.get_password(KEYRING_SERVICE, user)
        _keyring_cache[user] = stored
        return stored == value
    except Exception:
        return False


def _saved_secret(user: str, field: str) -> str | None:
    key = _keyring_get(user)
    if key:
        return key
    try:
        value = read_json(_secrets_file(), 64 * 1024).get(field)
    except (OSError, StoreError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _save_secret(user: str, field: str, value: str | None) -> str:
    value = (value or "").strip() or None
    if _keyring_set(value, user):
        _write_secret_file(field, None)
        return "keyring"
    _write_secret_file(field, value)
    return str(_secrets_file())


def saved_api_key() -> str | None:
    return _saved_secret(KEYRING_USER, "anthropicApiKey")


def save_api_key(value: str | None) -> str:
    """Store the key; returns where it went ("keyring" or the file path)."""
    return _save_secret(KEYRING_USER, "anthropicApiKey", value)


def saved_cluster_token() -> str | None:
    """How pmdesk authenticates to its Ray cluster (Ray's token authentication), if it must."""
    return _saved_secret(CLUSTER_TOKEN_USER, "rayClusterToken")


def save_cluster_token(value: str | None) -> str:
    return _save_secret(CLUSTER_TOKEN_USER, "rayClusterToken", value)


def _write_secret_file(field: str, value: str | None) -> None:
    """One secret set or cleared in the 0600 file, the others kept; no secret left: no file."""
    path = _secrets_file()
    try:
        held = read_json(path, 64 * 1024)
    except (OSError, StoreError):
        held = {}
    found = {k: v for k, v in (held if isinstance(held, dict) else {}).items() if isinstance(v, str) and v}
    found.pop(field, None)
    if value is not None:
        found[field] = value
    if not found:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    atomic_write_json(path, found, mode=0o600)


def api_key() -> str | None:
    """A key saved in Settings wins over ANTHROPIC_API_KEY."""
    return saved_api_key() or os.environ.get("ANTHROPIC_API_KEY") or None


def api_base_url() -> str | None:
    return os.environ.get("ANTHROPIC_BASE_URL") or None
