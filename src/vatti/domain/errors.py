"""Errors of the domain layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vatti.errors import VattiError

if TYPE_CHECKING:
    from vatti.domain.states import JobEvent, JobState


class DomainError(VattiError):
    """Root of domain errors."""

    code = "domain_error"


class InvalidTransition(DomainError):
    """An event is not allowed in the job's current state."""

    code = "invalid_transition"

    def __init__(self, state: JobState, event: JobEvent, job_id: str | None = None) -> None:
        who = f"job {job_id} " if job_id else ""
        super().__init__(f"{who}cannot {event.value!r} from state {state.value!r}")
        self.state = state
        self.event = event
        self.job_id = job_id


class InvalidRequest(DomainError):
    """A request cannot be represented canonically (e.g. a NaN in its params)."""

    code = "invalid_request"
    exit_code = 2


class UnreadableRecord(DomainError):
    """A record that vatti wrote (a manifest, an outcome) cannot be parsed."""

    code = "unreadable_record"
