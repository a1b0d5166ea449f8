from __future__ import annotations

import itertools

import pytest

from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure, FailureCode
from vatti.domain.states import (
    RETRYABLE_STATES,
    Effect,
    JobEvent,
    JobState,
    apply,
    hattivatti_event,
    is_terminal,
    wes_state,
)

pytestmark = pytest.mark.unit

S, E = JobState, JobEvent
NON_TERMINAL = [S.REQUESTED, S.QUEUED, S.PROVISIONING, S.RUNNING, S.CANCELLING]

# Written from the lifecycle described in DESIGN.md and the assignment, not read from the table.
EXPECTED: dict[tuple[JobState, JobEvent], JobState] = {
    (S.REQUESTED, E.ACCEPT): S.QUEUED,
    (S.QUEUED, E.ADMIT): S.PROVISIONING,
    (S.PROVISIONING, E.START): S.RUNNING,
    (S.RUNNING, E.SUCCEED): S.SUCCEEDED,
    (S.CANCELLING, E.SUCCEED): S.CANCELLED,  # finished while cancelling: ends cancelled
    (S.CANCELLING, E.CANCELLED): S.CANCELLED,
    (S.REQUESTED, E.CANCEL): S.CANCELLED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.PROVISIONING, E.CANCEL): S.CANCELLING,
    (S.RUNNING, E.CANCEL): S.CANCELLING,
    **{(s, E.FAIL): S.FAILED for s in NON_TERMINAL if s is not S.CANCELLING},
    (S.CANCELLING, E.FAIL): S.CANCELLED,
    (S.FAILED, E.RETRY): S.QUEUED,  # a new attempt of the same job
    (S.CANCELLED, E.RETRY): S.QUEUED,
}
ALL_PAIRS = list(itertools.product(JobState, JobEvent))
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


@pytest.mark.parametrize(("state", "event"), list(EXPECTED))
def test_allowed_transition_reaches_expected_state(state: JobState, event: JobEvent) -> None:
    t = apply(state, event)
    assert t.old_state is state
    assert t.new_state is EXPECTED[(state, event)]


@pytest.mark.parametrize(("state", "event"), REFUSED)
def test_refused_transition_raises(state: JobState, event: JobEvent) -> None:
    with pytest.raises(InvalidTransition) as info:
        apply(state, event)
    assert info.value.state is state
    assert state.value in str(info.value)
    assert info.value.code == "invalid_transition"


def test_terminal_states_refuse_everything_but_a_retry() -> None:
    for state in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        assert is_terminal(state)
        assert all((state, e) in REFUSED for e in JobEvent if e is not E.RETRY)
    assert (S.SUCCEEDED, E.RETRY) in REFUSED  # a success is not run again
    assert {S.FAILED, S.CANCELLED} == RETRYABLE_STATES
    assert not any(is_terminal(s) for s in NON_TERMINAL)


def test_submit_is_never_applied() -> None:
    assert all((s, E.SUBMIT) in REFUSED for s in JobState)


@pytest.mark.parametrize(("state", "event"), list(EXPECTED))
def test_effects_follow_the_rules(state: JobState, event: JobEvent) -> None:
    t = apply(state, event)
    effects = set(t.effects)
    assert Effect.NOTIFY in effects
    assert (Effect.CLEANUP_WORK in effects) == is_terminal(t.new_state)
    assert (Effect.DELETE_RESULTS in effects) == (t.new_state in (S.FAILED, S.CANCELLED))
    assert (Effect.PROVISION in effects) == (event is E.ADMIT)
    assert (Effect.SUBMIT in effects) == (event is E.ADMIT)
    stops_something = state in (S.PROVISIONING, S.RUNNING, S.CANCELLING) and event in (
        E.FAIL,
        E.CANCEL,
    )
    assert (Effect.TERMINATE in effects) == stops_something
    assert len(t.effects) == len(effects)
    order = list(Effect)
    assert sorted(t.effects, key=order.index) == list(t.effects)


def test_hattivatti_spelling() -> None:
    assert [hattivatti_event(s) for s in JobState] == [
        "Requested",
        "Created",
        "Created",
        "Deployed",
        "Succeeded",
        "Failed",
        "Deployed",
        "Failed",
    ]


def test_wes_states() -> None:
    assert wes_state(S.REQUESTED) == "QUEUED"
    assert wes_state(S.QUEUED) == "QUEUED"
    assert wes_state(S.PROVISIONING) == "INITIALIZING"
    assert wes_state(S.RUNNING) == "RUNNING"
    assert wes_state(S.CANCELLING) == "CANCELING"
    assert wes_state(S.SUCCEEDED) == "COMPLETE"
    assert wes_state(S.CANCELLED) == "CANCELED"


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure("pipeline_failed", "exit 3", step="command", exit_code=3), "EXECUTOR_ERROR"),
        (Failure("min_overlap", "too few variants matched", step="match"), "EXECUTOR_ERROR"),
        (Failure("my_pipeline_code", "custom", step="x"), "EXECUTOR_ERROR"),
        (Failure(FailureCode.TIMEOUT, "wall time"), "SYSTEM_ERROR"),
        (Failure(FailureCode.VANISHED, "gone"), "SYSTEM_ERROR"),
        (Failure(FailureCode.INTERNAL, "bug"), "SYSTEM_ERROR"),
        (None, "SYSTEM_ERROR"),
    ],
)
def test_wes_failed_depends_on_failure_origin(failure: Failure | None, expected: str) -> None:
    assert wes_state(S.FAILED, failure) == expected
