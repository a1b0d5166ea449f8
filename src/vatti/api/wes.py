"""GA4GH WES 1.1 under ``/ga4gh/wes/v1``: a facade over the job service.

The contract is the GA4GH spec (``workflow_execution_service.openapi.yaml``); the tests run
schemathesis against it on a live server. A run is a vatti job: :mod:`vatti.domain.wes` maps a
``RunWorkflow`` form to a job request, :mod:`vatti.api.wes_views` a job to the spec's bodies.
It is a sub-application of its own, so that every answer under the prefix, errors included
(401, 404 of an unknown path, 405), has the spec's ``ErrorResponse`` shape (``msg``,
``status_code``); the API's middleware (security headers, request ids, the body size limit)
wraps it like every route.

Authentication and scopes are the jobs API's (:func:`vatti.api.auth.require`): ``read`` lists
and reads runs, ``submit`` posts and cancels them, narrowed scopes (``submit:pgs``) are checked
by the job service, tenants see their own runs only. Statuses are the spec's: a refused request
is 400 (the API's 409 and 422 too, the spec having neither), bad paging of a run's tasks 404
(ListTasks documents no 400: the page asked for does not exist), a cancel of a run that has ended
already is 200 and changes nothing (its state says how it ended).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from vatti.api.auth import require
from vatti.api.deps import ApiState, State
from vatti.api.errors import ApiError, allowed_methods, translate, validation_details
from vatti.api.routes_jobs import check_rate
from vatti.api.wes_models import (
    DefaultWorkflowEngineParameter,
    ErrorResponse,
    Organization,
    RunId,
    RunListResponse,
    RunLog,
    RunStatus,
    ServiceInfo,
    ServiceType,
    TaskListResponse,
    TaskLog,
    WorkflowEngineVersion,
    WorkflowTypeVersion,
)
from vatti.api.wes_views import WES_PREFIX, run_log, run_status, run_summary, task_logs
from vatti.domain.access import Caller
from vatti.domain.scopes import READ, SUBMIT
from vatti.domain.states import TERMINAL_STATES, WES_STATES, JobState
from vatti.domain.wes import (
    ENGINE,
    ENGINE_PARAMETERS,
    FORM_FIELDS,
    WORKFLOW_TYPE_VERSIONS,
    RunForm,
    WesRequestError,
    job_request_data,
)
from vatti.errors import VattiError
from vatti.service.errors import NotCancellable, ResultsNotFound
from vatti.store.errors import InvalidCursor

__all__ = ["WES_PREFIX", "wes_app"]

logger = logging.getLogger("vatti.api.wes")

DEFAULT_PAGE_SIZE = 50
#: the spec's page sizes are int64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: the most form parts a run request may have (the spec names eight fields)
MAX_FORM_PARTS = 32
#: the schemes an input of a run may use (see the README's inputs)
FILESYSTEM_PROTOCOLS = ("file", "https", "s3", "gs")
AUTH_INSTRUCTIONS = (
    "Send 'Authorization: Bearer <token>' with every request. The operator of this vatti "
    "service makes tokens with 'vatti token create --tenant TENANT --scopes SCOPES' "
    "(scopes: read; submit, or submit:PIPELINE, or submit:command:COMMAND; admin).\n"
)

Reader = Annotated[Caller, Depends(require(READ))]
Submitter = Annotated[Caller, Depends(require(SUBMIT))]


def page_size_of(requested: int | None, cap: int) -> int:
    """The page size used: the default when none (or none above 0) is asked for, at most ``cap``.

    >>> page_size_of(None, 500), page_size_of(0, 500), page_size_of(10**18, 500)
    (50, 50, 500)
    """
    if requested is None or requested < 1:
        return min(DEFAULT_PAGE_SIZE, cap)
    return min(requested, cap)


def wes_app(state: ApiState, *, version: str) -> FastAPI:
    """The WES sub-application over the API's state; mount it at :data:`WES_PREFIX`."""
    app = FastAPI(title="vatti WES", version=version, openapi_url=None, docs_url=None)
    app.state.vatti = state
    app.state.engine_version = version
    _routes(app)
    _error_handlers(app)
    return app


async def _run_form(request: Request) -> RunForm:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise WesRequestError("body", "must be multipart/form-data (the spec's RunWorkflow form)")
    try:
        form = await request.form(max_files=MAX_FORM_PARTS, max_fields=MAX_FORM_PARTS)
    except StarletteHTTPException as exc:  # the parser's refusal, with its reason
        raise WesRequestError("body", f"is not a readable form ({exc.detail})") from exc
    except ValueError as exc:  # a part that is not text in its charset
        raise WesRequestError("body", "is not a readable form") from exc
    fields: dict[str, str | None] = {}
    other: list[str] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) or name not in FORM_FIELDS:
                other.append(name)
            elif name in fields:
                raise WesRequestError(name, "is given more than once")
            else:
                fields[name] = value
    finally:
        await form.close()
    return RunForm(fields, tuple(other))


def _routes(app: FastAPI) -> None:
    @app.get("/service-info", response_model=ServiceInfo, response_model_exclude_none=True)
    async def service_info(request: Request, state: State, caller: Reader) -> ServiceInfo:
        live = [s for s in JobState if s not in TERMINAL_STATES]
        counts = await asyncio.to_thread(state.service.state_counts, live, caller=caller)
        by_wes: dict[str, int] = {}
        for job_state, count in counts.items():
            key = WES_STATES[job_state]
            by_wes[key] = by_wes.get(key, 0) + count
        version: str = app.state.engine_version
        config = state.config  # the default URLs absolute: service-info's URLs are URIs
        organization_url = config.wes_organization_url or str(request.url_for("service_info"))
        instructions = config.wes_auth_instructions_url or str(request.url_for("auth_instructions"))
        return ServiceInfo(
            id="org.vatti.wes",
            name="vatti",
            type=ServiceType(group="org.ga4gh", artifact="wes", version="1.1.0"),
            description="vatti's pipelines (workflow_type names one) as GA4GH WES runs",
            organization=Organization(name=config.wes_organization, url=organization_url),
            version=version,
            workflow_type_versions={
                name: WorkflowTypeVersion(workflow_type_version=list(WORKFLOW_TYPE_VERSIONS))
                for name in state.service.registry.names()
            },
            supported_wes_versions=["1.1.0"],
            supported_filesystem_protocols=list(FILESYSTEM_PROTOCOLS),
            workflow_engine_versions={
                ENGINE: WorkflowEngineVersion(workflow_engine_version=[version])
            },
            default_workflow_engine_parameters=[
                DefaultWorkflowEngineParameter(
                    name=name, type="string" if group is None else "integer"
                )
                for name, (group, _) in ENGINE_PARAMETERS.items()
            ],
            system_state_counts=by_wes,
            auth_instructions_url=instructions,
            tags={"job_api": "/api/v1/jobs"},
        )

    @app.get("/auth-instructions", response_class=PlainTextResponse, include_in_schema=False)
    async def auth_instructions() -> PlainTextResponse:
        return PlainTextResponse(AUTH_INSTRUCTIONS)

    @app.get("/runs", response_model=RunListResponse, response_model_exclude_none=True)
    async def list_runs(
        state: State,
        caller: Reader,
        page_size: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
        page_token: Annotated[str | None, Query()] = None,
    ) -> RunListResponse:
        page = await asyncio.to_thread(
            state.service.list_jobs,
            caller=caller,
            limit=page_size_of(page_size, state.config.page_limit_max),
            cursor=page_token or None,
        )
        return RunListResponse(
            runs=[run_summary(j) for j in page.items], next_page_token=page.next_cursor or ""
        )

    @app.post("/runs", response_model=RunId)
    async def run_workflow(request: Request, state: State, caller: Submitter) -> RunId:
        check_rate(state, caller)
        form = await _run_form(request)
        data = job_request_data(form, state.service.registry.names(), app.state.engine_version)
        submission = await asyncio.to_thread(state.service.submit, data, caller=caller)
        return RunId(run_id=submission.job.id)

    @app.get("/runs/{run_id}", response_model=RunLog, response_model_exclude_none=True)
    async def get_run_log(run_id: str, state: State, caller: Reader) -> RunLog:
        def read() -> RunLog:
            job = state.service.get(run_id, caller=caller)
            outputs = []
            if job.state is JobState.SUCCEEDED:
                try:
                    outputs = state.service.outputs(job.id, caller=caller)
                except ResultsNotFound:  # expired
                    outputs = []
            return run_log(job, outputs)

        return await asyncio.to_thread(read)

    @app.get("/runs/{run_id}/status", response_model=RunStatus)
    async def get_run_status(run_id: str, state: State, caller: Reader) -> RunStatus:
        return run_status(await asyncio.to_thread(state.service.get, run_id, caller=caller))

    @app.post("/runs/{run_id}/cancel", response_model=RunId)
    async def cancel_run(run_id: str, state: State, caller: Submitter) -> RunId:
        try:
            job = await asyncio.to_thread(state.service.cancel, run_id, caller=caller)
        except NotCancellable:  # it ended: nothing to cancel, its state says how it ended
            return RunId(run_id=run_id)
        return RunId(run_id=job.id)

    @app.get(
        "/runs/{run_id}/tasks", response_model=TaskListResponse, response_model_exclude_none=True
    )
    async def list_tasks(
        run_id: str,
        state: State,
        caller: Reader,
        page_size: Annotated[str | None, Query()] = None,
        page_token: Annotated[str | None, Query()] = None,
    ) -> TaskListResponse:
        # the run first: an unknown run is 404 whatever the paging parameters say
        tasks = await asyncio.to_thread(_tasks, state, run_id, caller)
        try:
            size = page_size_of(_integer("page_size", page_size), state.config.page_limit_max)
            start = _integer("page_token", page_token or None) or 0
            if start < 0:
                raise WesRequestError("page_token", "is not a token this service gave")
        except WesRequestError as exc:
            # ListTasks documents no 400: the page asked for is one that does not exist
            raise ApiError(404, "not_found", f"no such page of the run's tasks ({exc})") from None
        end = start + size
        return TaskListResponse(
            task_logs=tasks[start:end], next_page_token=str(end) if end < len(tasks) else ""
        )

    @app.get(
        "/runs/{run_id}/tasks/{task_id}", response_model=TaskLog, response_model_exclude_none=True
    )
    async def get_task(run_id: str, task_id: str, state: State, caller: Reader) -> TaskLog:
        for task in await asyncio.to_thread(_tasks, state, run_id, caller):
            if task.id == task_id:
                return task
        raise ApiError(404, "not_found", f"run {run_id} has no task {task_id!r}")


def _tasks(state: ApiState, run_id: str, caller: Caller) -> list[TaskLog]:
    job = state.service.get(run_id, caller=caller)
    return task_logs(job, state.service.events(job.id, caller=caller))


def _integer(field: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise WesRequestError(field, "must be a whole number") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise WesRequestError(field, "must be a 64-bit integer")
    return value


# -- errors: the spec's ErrorResponse ---------------------------------------------------------


def wes_error(status: int, msg: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(msg=msg, status_code=status)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers or None)


def _with_details(message: str, details: Sequence[Mapping[str, str]]) -> str:
    parts = [f"{d['field']}: {d['message']}" if d.get("field") else d["message"] for d in details]
    return f"{message} ({'; '.join(parts)})" if parts else message


def error_of(exc: VattiError) -> tuple[int, str, dict[str, str]]:
    """The status, message and headers a WES client gets for a vatti error."""
    if isinstance(exc, WesRequestError):
        return 400, exc.message, {}
    if isinstance(exc, InvalidCursor):
        return 400, "page_token: is not a token this service gave", {}
    err = translate(exc)
    status = 400 if err.status in (409, 422) else err.status
    message = _with_details(err.message, err.details)
    job = err.extra.get("job")
    if isinstance(job, dict) and "id" in job:
        message = f"{message}: run {job['id']}"
    return status, message, err.headers


def _error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return wes_error(exc.status, _with_details(exc.message, exc.details), exc.headers)

    async def vatti_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VattiError)
        status, message, headers = error_of(exc)
        if status >= 500:
            logger.error("wes.error code=%s", exc.code, exc_info=exc)
        return wes_error(status, message, headers)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = validation_details(exc.errors(), strip=("body", "query", "path", "header"))
        return wes_error(400, _with_details("the request is invalid", details))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app.routes, request.scope))
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return wes_error(exc.status_code, message, headers)

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("wes.unhandled_error type=%s", type(exc).__name__, exc_info=exc)
        return wes_error(500, "internal server error")

    handlers: dict[Any, Any] = {
        ApiError: api_error,
        VattiError: vatti_error,
        RequestValidationError: validation_error,
        StarletteHTTPException: http_error,
        Exception: unexpected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
