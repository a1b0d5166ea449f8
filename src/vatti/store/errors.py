"""Errors of the job store."""

from __future__ import annotations

from vatti.domain.errors import InvalidTransition
from vatti.domain.states import JobEvent, JobState
from vatti.errors import VattiError


class StoreError(VattiError):
    """Root of store errors (driver errors are translated into these)."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy (locked, connection lost): try again later."""

    code = "store_unavailable"
    exit_code = 69  # EX_UNAVAILABLE
    transient = True


class JobNotFound(StoreError):
    code = "job_not_found"
    exit_code = 4

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class StaleTransition(InvalidTransition):
    """A concurrent writer changed the job's state between reading and the compare-and-set."""

    code = "stale_transition"

    def __init__(self, state: JobState, event: JobEvent, job_id: str) -> None:
        super().__init__(state, event, job_id)
        self.message = (
            f"job {job_id} changed concurrently; {event.value!r} from {state.value!r} refused"
        )


class InvalidCursor(StoreError):
    code = "invalid_cursor"
    exit_code = 2

    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid pagination cursor {cursor[:40]!r}")


class MigrationError(StoreError):
    code = "migration_failed"


class SchemaTooNew(MigrationError):
    """The database's schema was migrated by a newer release than this code: refuse to run
    rather than read or write tables whose shape this code does not know."""

    code = "schema_too_new"
    exit_code = 78  # EX_CONFIG: deploy the newer release (or downgrade the database) first

    def __init__(self, revision: str, head: str | None) -> None:
        super().__init__(
            f"the job database's schema is at revision {revision!r}, which this vatti does not "
            f"know (its newest is {head!r}): a newer vatti migrated it; run that release, or let "
            "it downgrade the database first"
        )
        self.revision = revision
