"""Engine errors as HTTP answers: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from pmdesk.engine.gates import GateConfigError
from pmdesk.engine.inspect import InspectError
from pmdesk.engine.loop import PlanStateError
from pmdesk.engine.runs import RunError
from pmdesk.executors.base import ExecutorError
from pmdesk.models import IllegalTransitionError, InvalidIdError
from pmdesk.store import CorruptStateError, CrossProjectError, NotFoundError, ProjectBusyError, StoreError
from pmdesk.store.registry import AlreadyRegisteredError, RegistryError, UnknownProjectError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}
    return web.json_response(body, status=status)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def as_api_error(exc: BaseException) -> ApiError | None:
    """The HTTP meaning of an engine error; None for a bug (answered 500 and logged)."""
    match exc:
        case ApiError():
            return exc
        case InvalidIdError():
            return ApiError(400, "invalid_id", str(exc))
        case ValidationError():
            return ApiError(422, "invalid_body", _validation_message(exc))
        case UnknownProjectError() | NotFoundError():
            return ApiError(404, "not_found", str(exc))
        case AlreadyRegisteredError():
            return ApiError(409, "already_registered", str(exc))
        case RegistryError():
            return ApiError(422, "invalid_project", str(exc))
        case ProjectBusyError():
            return ApiError(409, "project_busy", str(exc), owner=exc.owner)
        case PlanStateError() | IllegalTransitionError():
            return ApiError(409, "wrong_state", str(exc))
        case RunError() if "is empty" in str(exc):
            return ApiError(422, "invalid_body", str(exc))
        case RunError() | InspectError():
            return ApiError(409, "wrong_state", str(exc))
        case ExecutorError() | GateConfigError():
            return ApiError(422, "not_configured", str(exc))
        case CrossProjectError():
            return ApiError(422, "cross_project", str(exc))
        case CorruptStateError():
            return ApiError(500, "corrupt_state", f"{exc} (moved aside to {exc.quarantined_to})")
        case StoreError():
            return ApiError(500, "store_error", str(exc))
        case json.JSONDecodeError() | UnicodeDecodeError():
            return ApiError(400, "invalid_json", f"the body is not JSON: {exc}")
    return None
