"""The Celery executor's pure parts: statuses from records, handles, task messages, sealing."""

from __future__ import annotations

import pytest

from vatti.executors.base import Exited, Pending, Running, Vanished
from vatti.executors.celery import CeleryHandle, status_of
from vatti.executors.celery_app import BadMessage, TaskMessage
from vatti.executors.celery_records import CANCELLED, RunRecord
from vatti.executors.errors import BadHandle
from vatti.executors.sealed_secrets import SealBroken, seal, unseal
from vatti.secretbox import new_key

pytestmark = pytest.mark.unit

KEYS = [new_key()]


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (RunRecord(claimant=None, alive=False, state=None), Pending()),
        (RunRecord(claimant="w:1", alive=True, state=None), Pending()),
        (RunRecord(claimant="w:1", alive=True, state="running"), Running()),
        (RunRecord("w:1", False, "exited", 3, "why", "wall_time"), Exited(3, "why", "wall_time")),
        (RunRecord(CANCELLED, False, "exited", 143, "cancelled"), Exited(143, "cancelled")),
    ],
)
def test_records_map_to_statuses(record: RunRecord, status: object) -> None:
    assert status_of(record) == status


def test_a_claimed_attempt_nobody_beats_for_is_vanished() -> None:
    status = status_of(RunRecord(claimant="host:42", alive=False, state="running"))
    assert isinstance(status, Vanished)
    assert "host:42" in status.reason


def test_an_attempt_the_state_store_has_no_record_of_is_vanished_not_pending() -> None:
    """A store that lost its data (flushed, restarted without persistence) would otherwise leave
    the job pending (or running) until a timeout: no worker will ever report on it."""
    status = status_of(RunRecord(claimant=None, alive=False, state=None, sent=False))
    assert isinstance(status, Vanished)
    assert "state store has no record" in status.reason


def test_handles_refuse_what_is_not_theirs() -> None:
    with pytest.raises(BadHandle):
        CeleryHandle.loads('{"executor": "local", "v": 2}')
    bad_id = (
        '{"executor": "celery", "v": 1, "job_id": "a*b", "attempt": 1, "task_id": "t", '
        '"queue": "q"}'
    )
    with pytest.raises(BadHandle):
        CeleryHandle.loads(bad_id)


def test_a_task_message_round_trips_and_shows_only_its_job() -> None:
    message = TaskMessage("j1", 2, 512, 60.0, 30.0, 5.0, {"VATTI_X": "plain"}, "sealed")
    assert TaskMessage.from_kwargs(message.kwargs()) == message
    assert "plain" not in message.kwargsrepr()
    assert "sealed" not in repr(message)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"job_id": "j1"}, {"job_id": "../x", "attempt": 1}, {"job_id": "j", "attempt": 0}],
)
def test_junk_task_messages_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(BadMessage):
        TaskMessage.from_kwargs(kwargs)


def test_sealed_secrets_open_only_with_the_key_for_their_attempt() -> None:
    sealed = seal(KEYS, "j1", 1, {"VATTI_S": "s3cret"})
    assert "s3cret" not in sealed
    assert unseal(KEYS, "j1", 1, sealed) == {"VATTI_S": "s3cret"}
    assert unseal([new_key(), *KEYS], "j1", 1, sealed) == {"VATTI_S": "s3cret"}  # rotation
    with pytest.raises(SealBroken, match="none of the engine's keys"):
        unseal([new_key()], "j1", 1, sealed)
    with pytest.raises(SealBroken, match="another job"):
        unseal(KEYS, "j1", 2, sealed)
    with pytest.raises(SealBroken):
        unseal(KEYS, "j1", 1, "not sealed at all")
