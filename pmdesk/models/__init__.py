"""Pydantic models, enums, ids and state-transition tables. Qt-free."""

from pmdesk.models.entities import (
    ActivityEvent,
    Clarification,
    DispatchedRun,
    DispatchRequest,
    DispatchResponse,
    Event,
    GateCheck,
    GateResult,
    InspectionPacket,
    LogLine,
    Model,
    Plan,
    PlanCreatedResponse,
    PlanRequest,
    PlanTask,
    Project,
    ProjectSettings,
    Run,
    Session,
    Usage,
    VerifyResponse,
    jsonable,
    utc_now,
)
from pmdesk.models.enums import (
    ActivityType,
    ExecutorKind,
    PlanStatus,
    ProjectStatus,
    TaskState,
)
from pmdesk.models.ids import (
    InvalidIdError,
    event_id,
    event_ids,
    id_pattern,
    new_id,
    project_id_for_path,
    validate_id,
)
from pmdesk.models.transitions import (
    IllegalTransitionError,
    check_plan_transition,
    check_task_transition,
)

__all__ = [
    "ActivityEvent", "ActivityType", "Clarification", "DispatchRequest", "DispatchResponse",
    "DispatchedRun", "Event", "ExecutorKind", "GateCheck", "GateResult", "IllegalTransitionError",
    "InspectionPacket", "InvalidIdError", "LogLine", "Model", "Plan", "PlanCreatedResponse",
    "PlanRequest", "PlanStatus", "PlanTask", "Project", "ProjectSettings", "ProjectStatus", "Run",
    "Session", "TaskState", "Usage", "VerifyResponse", "check_plan_transition",
    "check_task_transition", "event_id", "event_ids", "id_pattern", "jsonable", "new_id",
    "project_id_for_path", "utc_now", "validate_id",
]
