"""The anthropic SDK client as pmdesk uses it, and API errors told in plain words."""

from __future__ import annotations

import os
from typing import Any

import anthropic

from pmdesk import config
from pmdesk.errors import ErrorKind, PmdeskError


class NoApiKeyError(PmdeskError, RuntimeError):
    """No key in Settings nor in the environment."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "not_configured"


def _client_options(timeout: float, max_retries: int) -> dict[str, Any]:
    key = config.api_key()
    if not key:
        raise NoApiKeyError("no Anthropic API key: save one in Settings or set ANTHROPIC_API_KEY")
    timeout = float(os.environ.get("PMDESK_API_TIMEOUT") or timeout)
    return {"api_key": key, "base_url": config.api_base_url(), "timeout": timeout, "max_retries": max_retries}


def make_client(timeout: float = 120.0, max_retries: int = 2) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(**_client_options(timeout, max_retries))


def make_sync_client(timeout: float = 120.0, max_retries: int = 2) -> anthropic.Anthropic:
    """For one request in a worker thread, where the loop must not run SDK code (the planner)."""
    return anthropic.Anthropic(**_client_options(timeout, max_retries))


def describe_api_error(exc: BaseException) -> str:
    """A sentence a user can act on, without the key or the request body."""
    if isinstance(exc, NoApiKeyError):
        return str(exc)
    if isinstance(exc, anthropic.AuthenticationError):
        return "the Anthropic API refused the API key (401): check the key in Settings"
    if isinstance(exc, anthropic.PermissionDeniedError):
        return "the Anthropic API denied access (403): the key may lack access to this model"
    if isinstance(exc, anthropic.NotFoundError):
        return "the Anthropic API does not know this model or endpoint (404): check the model name"
    if isinstance(exc, anthropic.RateLimitError):
        return "the Anthropic API is rate limiting this key (429), even after retries: wait and try again"
    if isinstance(exc, anthropic.APITimeoutError):
        return "the Anthropic API did not answer in time (timeout): try again later"
    if isinstance(exc, anthropic.APIConnectionError):
        return "could not reach the Anthropic API (connection failed): check the network or ANTHROPIC_BASE_URL"
    if isinstance(exc, anthropic.InternalServerError) or (
        isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500
    ):
        code = getattr(exc, "status_code", "5xx")
        return f"the Anthropic API had a server error ({code}), even after retries: try again later"
    if isinstance(exc, anthropic.BadRequestError):
        return f"the Anthropic API rejected the request (400): {_message(exc)}"
    if isinstance(exc, anthropic.APIStatusError):
        return f"the Anthropic API answered {exc.status_code}: {_message(exc)}"
    return f"the request to the Anthropic API failed: {exc}"


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc.message)[:300]
