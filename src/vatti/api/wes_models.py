"""The response bodies of the GA4GH WES 1.1 facade, as the spec names them.

Optional fields the spec types as plain strings (not nullable) are left out when unknown, never
sent as ``null``: the routes dump these models with ``exclude_none``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    msg: str
    status_code: int


class RunId(BaseModel):
    run_id: str


class RunStatus(BaseModel):
    run_id: str
    state: str


class RunSummary(RunStatus):
    start_time: str | None = None
    end_time: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class RunListResponse(BaseModel):
    runs: list[RunSummary]
    #: "" when there are no more runs
    next_page_token: str


class Log(BaseModel):
    name: str | None = None
    cmd: list[str] | None = None
    start_time: str | None = None
    end_time: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = None
    system_logs: list[str] | None = None


class TaskLog(Log):
    id: str
    name: str
    tes_uri: str | None = None


class TaskListResponse(BaseModel):
    task_logs: list[TaskLog]
    next_page_token: str


class RunRequest(BaseModel):
    workflow_params: dict[str, Any]
    workflow_type: str
    workflow_type_version: str
    tags: dict[str, str]
    workflow_engine_parameters: dict[str, str]
    workflow_engine: str
    workflow_url: str


class RunLog(BaseModel):
    run_id: str
    request: RunRequest
    state: str
    run_log: Log
    task_logs_url: str
    #: output name -> the URL it downloads from (with the same token)
    outputs: dict[str, str]


class ServiceType(BaseModel):
    group: str
    artifact: str
    version: str


class Organization(BaseModel):
    name: str
    url: str


class WorkflowTypeVersion(BaseModel):
    workflow_type_version: list[str]


class WorkflowEngineVersion(BaseModel):
    workflow_engine_version: list[str]


class DefaultWorkflowEngineParameter(BaseModel):
    name: str
    type: str
    default_value: str | None = None


class ServiceInfo(BaseModel):
    id: str
    name: str
    type: ServiceType
    description: str
    organization: Organization
    version: str
    workflow_type_versions: dict[str, WorkflowTypeVersion]
    supported_wes_versions: list[str]
    supported_filesystem_protocols: list[str]
    workflow_engine_versions: dict[str, WorkflowEngineVersion]
    default_workflow_engine_parameters: list[DefaultWorkflowEngineParameter]
    system_state_counts: dict[str, int]
    auth_instructions_url: str
    tags: dict[str, str]
