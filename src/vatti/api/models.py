"""Response schemas of the API (what clients read; documented in ``/openapi.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = Field(
        None, description="The request's id, as answered in X-Request-Id (and in the logs)."
    )


class ErrorBody(BaseModel):
    """Every error response. A ``duplicate_client_id`` conflict also carries ``job``."""

    error: ErrorInfo
    job: JobOut | None = None


class FailureOut(BaseModel):
    code: str
    message: str
    step: str | None = None
    exit_code: int | None = None


class JobLinks(BaseModel):
    self: str
    events: str
    logs: str
    outputs: str


class JobOut(BaseModel):
    id: str
    client_id: str | None
    pipeline: str
    #: the backend the job belongs to (the submitting token's tenant)
    tenant: str
    state: str
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    failure: FailureOut | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    webhook_url: str | None = Field(
        default=None,
        description="the origin of the job's notification URL (its path or query may hold a "
        "token, and the URL is kept sealed)",
    )
    results_expire_at: datetime | None = None
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = None


class EventOut(BaseModel):
    seq: int
    #: the attempt the event belongs to: 1, and one more after each retry
    attempt: int
    event: str
    from_state: str | None
    to_state: str
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)
    #: who caused it: token:<id>, kafka, oidc:<subject>, operator:<user>, engine
    actor: str | None = None


class EventList(BaseModel):
    events: list[EventOut]


class OutputOut(BaseModel):
    name: str
    size: int
    sha256: str
    url: str


class OutputList(BaseModel):
    outputs: list[OutputOut]


class Health(BaseModel):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)


ErrorBody.model_rebuild()
