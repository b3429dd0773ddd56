"""The spec's data model: every JSON example parses and serialises back unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from pmdesk.models import (
    DispatchRequest,
    DispatchResponse,
    GateCheck,
    Plan,
    PlanCreatedResponse,
    PlanRequest,
    Run,
    VerifyResponse,
)

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "autonomous-loop.md"


def spec_json_blocks() -> list[dict]:
    text = SPEC.read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        cleaned = re.sub(r"\s*//[^\n]*", "", block)  # the spec annotates with // comments
        out.append(json.loads(cleaned))
    return out


def test_spec_has_the_six_examples() -> None:
    assert len(spec_json_blocks()) == 6


@pytest.mark.parametrize(
    ("index", "model"),
    [(0, PlanRequest), (1, PlanCreatedResponse), (2, DispatchRequest), (3, DispatchResponse),
     (4, BaseModel), (5, VerifyResponse)],
)
def test_spec_examples_round_trip(index: int, model: type[BaseModel]) -> None:
    example = spec_json_blocks()[index]
    if model is BaseModel:  # the verify request is the empty object
        assert example == {}
        return
    parsed = model.model_validate(example)
    assert parsed.to_json_dict() == example  # type: ignore[attr-defined]


def test_unknown_fields_survive_a_read_modify_write() -> None:
    written_by_other_tool = {
        "planId": "plan_abc", "projectId": "pidx_0123456789ab", "orgId": "org_1", "status": "DRAFT",
        "tasks": [{"taskId": "ptask_001", "description": "x", "priority": 1, "dependencies": [],
                   "status": "CREATED", "estimateHours": 3}],
        "createdAt": "2025-02-03T00:00:00Z", "updatedAt": "2025-02-03T00:00:00Z",
        "reviewer": {"name": "ann"},
    }
    plan = Plan.model_validate(written_by_other_tool)
    plan.summary = "edited"
    out = plan.to_json_dict()
    assert out["reviewer"] == {"name": "ann"}
    assert out["tasks"][0]["estimateHours"] == 3
    assert out["orgId"] == "org_1"


def test_gate_check_matches_the_spec_structure() -> None:
    check = GateCheck(name="gate:ui", passed=True, message="ok", duration=12)
    assert check.to_json_dict() == {"name": "gate:ui", "passed": True, "message": "ok", "duration": 12}


def test_run_carries_plan_fields_and_unknown_cost() -> None:
    run = Run(run_id="run_1", project_id="pidx_0123456789ab", prompt="p", plan_id="plan_1", plan_task_id="ptask_1")
    data = run.to_json_dict()
    assert data["planId"] == "plan_1" and data["planTaskId"] == "ptask_1"
    assert "costUsd" not in data  # unknown is absent, never 0
    assert data["executor"] == "command"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "plan_x/../y", "/etc/passwd", "plan_", "plan_a.json",
                                  "plan_../x", "PLAN_1", "plan_a\x00b", "", "plan_a b"])
def test_bad_plan_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid plan id"):
        Plan(plan_id=bad, project_id="pidx_0123456789ab")
