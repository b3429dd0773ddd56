"""Engine errors as HTTP answers: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.store import CorruptStateError, ProjectBusyError
from pmdesk.store.scrub import scrub

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.BAD_INPUT: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.WRONG_STATE: 409,
    ErrorKind.CONFLICT: 409,
    ErrorKind.BUSY: 409,
    ErrorKind.NOT_CONFIGURED: 422,
    ErrorKind.DAMAGED: 503,  # the server's own files need the user's hand; the request was fine
    ErrorKind.FAILED: 500,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": scrub(message), **{k: v for k, v in extra.items() if v is not None}}}
    return web.json_response(body, status=status)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def as_api_error(exc: BaseException) -> ApiError | None:
    """The HTTP meaning of an error: by its kind (one table), never by its text; None for a bug
    (answered 500 and logged)."""
    match exc:
        case ApiError():
            return exc
        case ProjectBusyError():
            return ApiError(STATUS_BY_KIND[exc.kind], exc.code, str(exc), owner=exc.owner)
        case CorruptStateError():
            return ApiError(STATUS_BY_KIND[exc.kind], exc.code, f"{exc} (moved aside to {exc.quarantined_to})")
        case PmdeskError():
            return ApiError(STATUS_BY_KIND[exc.kind], exc.code, str(exc))
        case ValidationError():
            return ApiError(422, "invalid_body", _validation_message(exc))
        case json.JSONDecodeError() | UnicodeDecodeError():
            return ApiError(400, "invalid_json", f"the body is not JSON: {exc}")
    return None
