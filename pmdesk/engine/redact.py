"""Secrets never reach a state file, a log or an exported packet."""

from __future__ import annotations

from typing import Any

from pmdesk import config
from pmdesk.executors.lines import joined
from pmdesk.store.patterns import MASK, mask_shapes, may_hold_secret


def _known_secrets() -> list[str]:
    """The saved API key and the cluster's token: never in a record, an event or a log line."""
    return [key for key in (config.api_key(), config.saved_cluster_token()) if key and len(key) >= 8]


class Redactor:
    """Masks the saved key wherever it appears, and anything shaped like a key or token."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets = None if secrets is None else [s for s in secrets if s]

    @property
    def secrets(self) -> list[str]:
        """The known keys, looked up on first use (the keyring may be slow; the window warms it in a thread)."""
        if self._secrets is None:
            self._secrets = _known_secrets()
        return self._secrets

    @secrets.setter
    def secrets(self, values: list[str]) -> None:
        self._secrets = [s for s in values if s]

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return mask_shapes(value)

    def lines(self, values: list[str]) -> list[str]:
        """Many lines at once: one scan of their joined text decides whether any needs a look."""
        text = values[0] if len(values) == 1 else joined(values)
        for secret in self.secrets:
            if secret in text:
                break
        else:
            if not may_hold_secret(text):
                return values
        return [self.text(v) for v in values]

    def any(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.any(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.any(v) for v in value]
        return value
