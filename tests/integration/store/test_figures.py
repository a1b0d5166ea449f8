"""The store's figures for /metrics and the dashboard, the same on every JobStore."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.store.test_contract import T0, new, store, submit, to

from vatti.domain.failure import Failure
from vatti.domain.states import JobEvent, JobState
from vatti.store.base import Changes, JobStore, OutboxBacklog

__all__ = ["store"]  # the fixture: memory, SQLite, PostgreSQL


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_job_counts_by_state_and_pipeline(store: JobStore) -> None:
    assert store.job_counts_by_state_and_pipeline() == {}
    a = submit(store, 1)
    submit(store, 2)
    submit(store, 3, pipeline="command")
    store.transition(a.id, JobEvent.ADMIT, now=T0 + s(1))
    assert store.job_counts_by_state_and_pipeline() == {
        (JobState.QUEUED, "pgs"): 1,
        (JobState.PROVISIONING, "pgs"): 1,
        (JobState.QUEUED, "command"): 1,
    }


def test_jobs_ended_between_gives_times_failure_and_summary(store: JobStore) -> None:
    ok = submit(store, 1)
    lost = submit(store, 2, pipeline="command")
    waiting = submit(store, 3)
    store.transition(ok.id, JobEvent.ADMIT, now=T0 + s(2))
    store.transition(ok.id, JobEvent.START, now=T0 + s(3), changes=Changes(executor="local"))
    summary = {"pgs_match": {"passed": 1}}
    detail = {"outputs": ["a.txt"], "summary": summary}
    store.transition(ok.id, JobEvent.SUCCEED, now=T0 + s(10), changes=Changes(detail=detail))
    # reading an output later is an audit row on the succeeded job: it changes nothing here
    store.record_event(ok.id, JobEvent.DOWNLOAD_OUTPUT, now=T0 + s(11), actor="token:x")
    store.transition(lost.id, JobEvent.ADMIT, now=T0 + s(4))
    failure = Failure("vanished", "gone")
    store.transition(lost.id, JobEvent.FAIL, now=T0 + s(20), changes=Changes(failure=failure))

    ended = store.jobs_ended_between(T0)
    assert [e.state for e in ended] == [JobState.SUCCEEDED, JobState.FAILED]
    first, second = ended
    assert (first.pipeline, first.executor, first.failure_code) == ("pgs", "local", None)
    assert first.created_at == T0
    assert first.admitted_at == T0 + s(2)
    assert first.started_at == T0 + s(3)
    assert first.finished_at == T0 + s(10)
    assert first.summary == summary
    assert (second.pipeline, second.failure_code, second.started_at) == (
        "command",
        "vanished",
        None,
    )
    assert second.admitted_at == T0 + s(4)
    assert second.summary == {}
    # windows are [since, until): each ended job falls in exactly one of adjacent windows
    assert [e.state for e in store.jobs_ended_between(T0, T0 + s(10))] == []
    assert [e.state for e in store.jobs_ended_between(T0 + s(10), T0 + s(20))] == [
        JobState.SUCCEEDED
    ]
    assert [e.state for e in store.jobs_ended_between(T0 + s(20))] == [JobState.FAILED]
    assert waiting.id not in {j.id for j in store.jobs_in_states([JobState.SUCCEEDED])}


def test_outbox_backlog_and_deliveries(store: JobStore) -> None:
    assert store.outbox_backlog() == []
    store.submit(new(1), now=T0, dedup_window_s=60, notify=to("https://a.example"))
    store.submit(new(2), now=T0 + s(5), dedup_window_s=60, notify=to("https://b.example"))
    # each submission wrote two messages (submit, accept); the first of each stream is due
    first, second = store.claim_outbox(T0 + s(6), limit=10, lease_s=30)
    store.mark_failed(first.id, "refused", T0 + s(7))
    store.mark_delivered(second.id, T0 + s(6.5))
    assert [c.retrying for c in store.outbox_backlog()] == [1]  # the refused one, due again
    (retried,) = [
        m for m in store.claim_outbox(T0 + s(8), limit=10, lease_s=30) if m.id == first.id
    ]
    store.mark_dead(retried.id, "refused again", T0 + s(8))

    (backlog,) = store.outbox_backlog()
    assert backlog == OutboxBacklog(
        "webhook", pending=2, delivered=1, dead=1, attempts=3, oldest_pending_at=T0
    )
    (delivery,) = store.deliveries_between(T0)
    assert (delivery.channel, delivery.attempts) == ("webhook", 1)
    assert (delivery.created_at, delivery.delivered_at) == (T0 + s(5), T0 + s(6.5))
    assert store.deliveries_between(T0, T0 + s(6.5)) == []
    assert store.deliveries_between(T0 + s(6.6)) == []
