"""The status topic's outbox rows: hattivatti's events, once per change, for the Kafka tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.failure import Failure
from vatti.domain.states import JobEvent
from vatti.engine.notifications import webhook_notifications
from vatti.notify.topic import (
    KAFKA_CHANNEL,
    both,
    status_events,
    topic_notifications,
)
from vatti.store.base import Changes, NewJob, NotifyBuilder
from vatti.store.memory import MemoryJobStore

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def run(
    notify: NotifyBuilder, *events: JobEvent, tenant: str = "lab", failure: Failure | None = None
) -> list[dict[str, object]]:
    """The topic payloads of a job of ``tenant`` submitted, then taken through ``events``."""
    store = MemoryJobStore()
    new = NewJob("pgs", {}, "fp", client_id="INTP00000001", tenant=tenant)
    job = store.submit(new, now=T0, dedup_window_s=0, notify=notify).job
    for n, event in enumerate(events, start=1):
        changes = Changes(failure=failure) if event is JobEvent.FAIL else None
        store.transition(
            job.id, event, now=T0 + timedelta(seconds=n), changes=changes, notify=notify
        )
    return [m.payload for m in store.outbox_for(job.id) if m.channel == KAFKA_CHANNEL]


LIFE = (JobEvent.ADMIT, JobEvent.START, JobEvent.SUCCEED)


def test_the_topic_gets_hattivattis_set_once_per_change() -> None:
    sent = run(topic_notifications("pipeline-status", "lab", status_events(False)), *LIFE)

    assert sent == [
        {"run_name": "INTP00000001", "utc_time": "2025-03-01T00:00:02Z", "event": "Deployed"},
        {"run_name": "INTP00000001", "utc_time": "2025-03-01T00:00:03Z", "event": "Succeeded"},
    ]


def test_created_is_sent_once_when_asked() -> None:
    sent = run(topic_notifications("pipeline-status", "lab", status_events(True)), *LIFE)

    assert [m["event"] for m in sent] == ["Created", "Deployed", "Succeeded"]


def test_failed_names_the_failing_step() -> None:
    failure = Failure("pipeline_failed", "exit 3", step="score", exit_code=3)
    notify = topic_notifications("pipeline-status", "lab", status_events(False))

    *_, failed = run(notify, JobEvent.ADMIT, JobEvent.START, JobEvent.FAIL, failure=failure)

    assert failed["event"] == "Failed"
    assert (failed["trace_name"], failed["trace_exit"]) == ("score", 3)


def test_a_cancelled_run_is_deployed_once_then_failed() -> None:
    notify = topic_notifications("pipeline-status", "lab", status_events(False))

    sent = run(notify, JobEvent.ADMIT, JobEvent.START, JobEvent.CANCEL, JobEvent.CANCELLED)

    assert [m["event"] for m in sent] == ["Deployed", "Failed"]


def test_other_tenants_jobs_are_not_on_the_topic_and_webhooks_keep_every_state() -> None:
    notify = both(
        webhook_notifications("http://hooks.example/h"),
        topic_notifications("pipeline-status", "lab", status_events(False)),
    )
    assert run(notify, *LIFE, tenant="other") == []

    store = MemoryJobStore()
    job = store.submit(
        NewJob("pgs", {}, "fp", tenant="lab"), now=T0, dedup_window_s=0, notify=notify
    ).job
    for n, event in enumerate(LIFE, start=1):
        store.transition(job.id, event, now=T0 + timedelta(seconds=n), notify=notify)
    channels = [(m.channel, m.payload["event"]) for m in store.outbox_for(job.id)]
    webhook = [e for c, e in channels if c == "webhook"]
    assert len(webhook) == 5  # submit, accept, admit, start, succeed
    assert [e for c, e in channels if c == KAFKA_CHANNEL] == ["Deployed", "Succeeded"]
