"""The job lifecycle as data.

``TRANSITIONS`` maps ``(state, event)`` to the next state and the effects specific to that
transition; :func:`apply` adds the effects every transition shares (every transition NOTIFYs,
terminal ones CLEANUP_WORK, ``failed``/``cancelled`` also DELETE_RESULTS). The store enforces the
same table a second time with a compare-and-set on the state column.

A job is created ``requested`` and accepted into ``queued`` in the same transaction (the
``submit`` event has no table entry: it only creates). A ``failed`` or ``cancelled`` job may be
retried: ``retry`` queues it again, and its next admission starts a new attempt. A job that
finishes (succeeds or fails) while ``cancelling`` ends ``cancelled``: the user asked for it to
stop, and it stopped.

Next to the table: the hattivatti message spelling and the GA4GH WES state of each state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure


class JobState(StrEnum):
    REQUESTED = "requested"
    QUEUED = "queued"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class JobEvent(StrEnum):
    SUBMIT = "submit"  # creates the job in ``requested``; never applied to an existing job
    ACCEPT = "accept"
    ADMIT = "admit"
    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    CANCELLED = "cancelled"  # the executor confirmed a cancellation
    RETRY = "retry"  # a failed or cancelled job is queued again, for a new attempt
    # audit events: rows of the job's trail that change no state (never applied)
    DOWNLOAD_LOG = "download_log"  # someone read the job's log
    DOWNLOAD_OUTPUT = "download_output"  # someone downloaded one of the job's outputs


class Effect(StrEnum):
    """What the engine must do after a transition commits (in this order)."""

    PROVISION = "provision"
    SUBMIT = "submit"
    TERMINATE = "terminate"
    CLEANUP_WORK = "cleanup_work"
    DELETE_RESULTS = "delete_results"
    NOTIFY = "notify"


INITIAL_STATE = JobState.REQUESTED

TERMINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
)

_S = JobState
_E = JobEvent
_F = Effect

#: (from state, event) -> (to state, effects particular to this transition)
TRANSITIONS: dict[tuple[JobState, JobEvent], tuple[JobState, tuple[Effect, ...]]] = {
    (_S.REQUESTED, _E.ACCEPT): (_S.QUEUED, ()),
    (_S.QUEUED, _E.ADMIT): (_S.PROVISIONING, (_F.PROVISION, _F.SUBMIT)),
    (_S.PROVISIONING, _E.START): (_S.RUNNING, ()),
    (_S.RUNNING, _E.SUCCEED): (_S.SUCCEEDED, ()),
    (_S.CANCELLING, _E.SUCCEED): (_S.CANCELLED, ()),
    (_S.REQUESTED, _E.FAIL): (_S.FAILED, ()),
    (_S.QUEUED, _E.FAIL): (_S.FAILED, ()),
    (_S.PROVISIONING, _E.FAIL): (_S.FAILED, (_F.TERMINATE,)),
    (_S.RUNNING, _E.FAIL): (_S.FAILED, (_F.TERMINATE,)),
    (_S.CANCELLING, _E.FAIL): (_S.CANCELLED, (_F.TERMINATE,)),
    (_S.REQUESTED, _E.CANCEL): (_S.CANCELLED, ()),
    (_S.QUEUED, _E.CANCEL): (_S.CANCELLED, ()),
    (_S.PROVISIONING, _E.CANCEL): (_S.CANCELLING, (_F.TERMINATE,)),
    (_S.RUNNING, _E.CANCEL): (_S.CANCELLING, (_F.TERMINATE,)),
    (_S.CANCELLING, _E.CANCELLED): (_S.CANCELLED, ()),
    (_S.FAILED, _E.RETRY): (_S.QUEUED, ()),
    (_S.CANCELLED, _E.RETRY): (_S.QUEUED, ()),
}

#: The events that record an access, not a change: their row has from_state == to_state.
AUDIT_EVENTS: frozenset[JobEvent] = frozenset({JobEvent.DOWNLOAD_LOG, JobEvent.DOWNLOAD_OUTPUT})

#: The states a job may be retried from (a new attempt of the same job, same ``client_id``).
RETRYABLE_STATES: frozenset[JobState] = frozenset(s for (s, e) in TRANSITIONS if e is _E.RETRY)

#: hattivatti's message event spelling of each state.
HATTIVATTI_EVENTS: dict[JobState, str] = {
    _S.REQUESTED: "Requested",
    _S.QUEUED: "Created",
    _S.PROVISIONING: "Created",
    _S.RUNNING: "Deployed",
    _S.CANCELLING: "Deployed",
    _S.SUCCEEDED: "Succeeded",
    _S.FAILED: "Failed",
    _S.CANCELLED: "Failed",
}

#: GA4GH WES state of each state; ``failed`` is refined by :func:`wes_state`.
WES_STATES: dict[JobState, str] = {
    _S.REQUESTED: "QUEUED",
    _S.QUEUED: "QUEUED",
    _S.PROVISIONING: "INITIALIZING",
    _S.RUNNING: "RUNNING",
    _S.CANCELLING: "CANCELING",
    _S.SUCCEEDED: "COMPLETE",
    _S.FAILED: "SYSTEM_ERROR",
    _S.CANCELLED: "CANCELED",
}


@dataclass(frozen=True)
class Transition:
    old_state: JobState
    new_state: JobState
    effects: tuple[Effect, ...]


def is_terminal(state: JobState) -> bool:
    return state in TERMINAL_STATES


def _shared_effects(new_state: JobState) -> set[Effect]:
    effects = {Effect.NOTIFY}
    if is_terminal(new_state):
        effects.add(Effect.CLEANUP_WORK)
    if new_state in (JobState.FAILED, JobState.CANCELLED):
        effects.add(Effect.DELETE_RESULTS)
    return effects


def apply(state: JobState, event: JobEvent) -> Transition:
    """The transition ``event`` causes from ``state``; raise :class:`InvalidTransition` if none.

    >>> apply(JobState.QUEUED, JobEvent.CANCEL).new_state
    <JobState.CANCELLED: 'cancelled'>
    """
    try:
        new_state, particular = TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None
    wanted = set(particular) | _shared_effects(new_state)
    return Transition(state, new_state, tuple(e for e in Effect if e in wanted))


def hattivatti_event(state: JobState) -> str:
    return HATTIVATTI_EVENTS[state]


def wes_state(state: JobState, failure: Failure | None = None) -> str:
    """The GA4GH WES state: a pipeline failure is EXECUTOR_ERROR, any other SYSTEM_ERROR."""
    if state is JobState.FAILED and failure is not None and failure.from_pipeline:
        return "EXECUTOR_ERROR"
    return WES_STATES[state]
