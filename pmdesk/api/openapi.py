"""The OpenAPI 3.1 document, built from the same route table that serves the requests."""

from __future__ import annotations

import json
import typing
from dataclasses import MISSING, fields
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

import pmdesk
from pmdesk.api.routes import ROUTES, Route
from pmdesk.api.schemas import ErrorBody
from pmdesk.engine.overview import ProjectOverview
from pmdesk.models import Event, PlanTask, ProjectSettings, id_pattern
from pmdesk.store import PlanSummary, RunSummary

REF = "#/components/schemas/{model}"
ID_PREFIX = {"projectId": "pidx", "runId": "run", "planId": "plan", "packetId": "pkt"}
ERRORS = {400: "Bad request (an invalid id or query)", 401: "Missing or wrong bearer token",
          404: "No such project, run, plan or packet", 409: "Not allowed in the current state",
          413: "Body too large", 422: "The body does not validate"}


def _summary_model(cls: type) -> type[BaseModel]:
    """The index's slotted summaries as pydantic models, only to describe their JSON."""
    hints = typing.get_type_hints(cls)
    spec: dict[str, Any] = {}
    for f in fields(cls):
        default = None if f.default is MISSING else f.default
        spec[f.name] = (hints[f.name], ... if f.default is MISSING else default)
    config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    model: type[BaseModel] = create_model(cls.__name__, __config__=config, **spec)
    return model


PAGE_HEADERS = {
    "Link": {"description": 'the next page: <url>; rel="next" (absent on the last page)', "schema": {"type": "string"}},
    "X-Total-Count": {"description": "how many items pass the filter, on every page (absent where not counted)",
                      "schema": {"type": "integer"}},
}


def _ref(value: Any, models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    if isinstance(value, str):
        return {"$ref": REF.format(model=value)}
    if isinstance(value, list):
        return {"type": "array", "items": _ref(value[0], models)}
    if isinstance(value, dict):
        return value
    model = models.get(value.__name__) or value
    models[model.__name__] = model
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: Route, models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "pattern": id_pattern(ID_PREFIX[n])}}
              for n in _path_params(route.path)]
    params += [{"name": n, "in": "query", "required": False, "schema": s, "description": d} for n, s, d in route.query]
    responses: dict[str, Any] = {}
    for status, schema in route.answers.items():
        responses[str(status)] = {"description": "OK" if status < 300 else "",
                                  "content": {"application/json": {"schema": _ref(schema, models)}}}
        if route.paged and status == 200:
            responses["200"]["headers"] = PAGE_HEADERS
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
    for status, text in ERRORS.items():
        if status in (413, 422) and route.body is None and route.method == "GET":
            continue
        responses[str(status)] = {"description": text, **error}
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary, "parameters": params,
                          "responses": responses}
    if route.body is not None:
        models[route.body.__name__] = route.body
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=route.body.__name__)}}}}
    return op


_BODIES = {route.body for route in ROUTES if route.body is not None}


def _mode(model: type[BaseModel]) -> Any:
    """Request bodies are described as they are read, everything else as it is written."""
    return "validation" if model in _BODIES else "serialization"


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@cache
def openapi_bytes() -> bytes:
    """The document as served: encoded once, it never changes while the process runs."""
    return json.dumps(openapi_document()).encode()


@cache
def openapi_document() -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {
        "RunSummary": _summary_model(RunSummary), "PlanSummary": _summary_model(PlanSummary),
        "ErrorBody": ErrorBody, "Event": Event, "PlanTask": PlanTask,
        "ProjectOverview": ProjectOverview, "ProjectSettings": ProjectSettings,
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, models)
    _, defs = models_json_schema([(m, _mode(m)) for m in models.values()], by_alias=True,
                                 ref_template=REF)
    schemas = defs.get("$defs", {})
    schemas["ProjectDetail"] = {
        "type": "object",
        "required": ["overview", "settings", "plans", "runs"],
        "properties": {"overview": {"$ref": REF.format(model="ProjectOverview")},
                       "settings": {"$ref": REF.format(model="ProjectSettings")},
                       "plans": {"type": "array", "items": {"$ref": REF.format(model="PlanSummary")},
                                 "description": "the first page, newest first"},
                       "plansNext": {"type": ["string", "null"], "description": "listPlans ?after= for the rest"},
                       "runs": {"type": "array", "items": {"$ref": REF.format(model="RunSummary")},
                                "description": "the first page, newest first"},
                       "runsNext": {"type": ["string", "null"], "description": "listRuns ?after= for the rest"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "pmdesk local API", "version": pmdesk.__version__,
                 "description": "The Autonomous Loop (Inspect → Plan → Dispatch → Verify → Record) over HTTP, "
                                "on loopback, with the bearer token from <config dir>/pmdesk/api-token."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
