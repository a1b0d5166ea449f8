"""Errors of the job service: domain errors that each edge translates once.

The HTTP API maps them to statuses in :mod:`vatti.api.errors`; the CLI exits with ``exit_code``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vatti.errors import VattiError

if TYPE_CHECKING:
    from vatti.domain.jobs import Job


class ServiceError(VattiError):
    """Root of the job service's errors."""

    code = "service_error"


class MalformedRequest(ServiceError):
    """The request body is not JSON (or not JSON vatti can read)."""

    code = "malformed_json"
    exit_code = 2


class JsonTooDeep(MalformedRequest):
    """The request body is JSON nested deeper than the parser reads."""

    code = "json_too_deep"


class InvalidJobRequest(ServiceError):
    """The request is JSON but not a valid job request; ``details`` name each bad field."""

    code = "invalid_request"
    exit_code = 2

    def __init__(self, message: str, details: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.details = [dict(d) for d in details]


class DuplicateClientId(ServiceError):
    """A job with this ``client_id`` exists already; ``job`` is that job."""

    code = "duplicate_client_id"
    exit_code = 1

    def __init__(self, job: Job) -> None:
        super().__init__(f"a job with client_id {job.client_id!r} already exists")
        self.job = job


class StateConflict(ServiceError):
    """The job's state does not allow what was asked."""

    exit_code = 1

    def __init__(self, job_id: str, state: str, why: str) -> None:
        super().__init__(f"job {job_id} is {state}; {why}")
        self.job_id = job_id
        self.state = state


class NotCancellable(StateConflict):
    """The job has already finished."""

    code = "not_cancellable"

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(job_id, state, "it cannot be cancelled")


class NotRetryable(StateConflict):
    """Only a job that ended failed or cancelled can be retried."""

    code = "not_retryable"

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(job_id, state, "only a failed or cancelled job can be retried")


class ResultsNotFound(ServiceError):
    """The job has no results (not yet, or not any more)."""

    code = "outputs_not_found"
    exit_code = 4


class OutputMissing(ServiceError):
    """The job's results list no such file."""

    code = "output_not_found"
    exit_code = 4


class LogNotFound(ServiceError):
    """The job has no log (it never ran, or the log expired)."""

    code = "logs_not_found"
    exit_code = 4


class Forbidden(ServiceError):
    """The caller's scopes do not allow this (a token narrowed to another pipeline or command)."""

    code = "forbidden"
    exit_code = 77
