"""A job's webhook URL is sealed in the database and reads back clear (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from vatti.engine.notifications import JOB_WEBHOOK, webhook_notifications
from vatti.secretbox import PREFIX, SecretBox, new_key
from vatti.store.base import NewJob
from vatti.store.schema import jobs, outbox
from vatti.store.sql import SqlJobStore, open_store

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
URL = "https://hooks.example.org/t/hooktok-77e1?token=qs-secret-99"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlJobStore]:
    s = open_store(database_url, secrets=SecretBox([new_key()]))
    try:
        yield s
    finally:
        s.close()


def submit(store: SqlJobStore, n: int) -> str:
    new = NewJob("command", {"n": n}, f"{n:064x}", webhook_url=URL)
    return store.submit(new, now=T0, dedup_window_s=0, notify=webhook_notifications(None)).job.id


def raw(store: SqlJobStore) -> str:
    """Every value of the jobs and outbox tables, as text."""
    with store.engine.connect() as conn:
        rows = [*conn.execute(sa.select(jobs)).all(), *conn.execute(sa.select(outbox)).all()]
    return "\n".join(str(value) for row in rows for value in row)


def test_the_url_is_sealed_at_rest_and_clear_when_read(store: SqlJobStore) -> None:
    job_id = submit(store, 1)
    assert store.get(job_id).webhook_url == URL
    assert [j.webhook_url for j in store.list_jobs(limit=10).items] == [URL]
    assert {m.destination for m in store.outbox_for(job_id)} == {JOB_WEBHOOK}
    at_rest = raw(store)
    for part in ("hooktok-77e1", "qs-secret-99", "hooks.example.org"):
        assert part not in at_rest
    assert PREFIX in at_rest


def test_reseal_moves_every_value_to_a_new_key_and_seals_clear_ones(database_url: str) -> None:
    old, new = new_key(), new_key()
    first = open_store(database_url, secrets=SecretBox([old]))
    try:
        sealed_id = submit(first, 1)
    finally:
        first.close()
    clear = open_store(database_url)  # a row written before sealing existed
    try:
        clear_id = submit(clear, 2)
        assert URL in raw(clear)
    finally:
        clear.close()

    rotated = open_store(database_url, secrets=SecretBox([new, old]))
    try:
        assert rotated.reseal_secrets() == 2
        assert URL not in raw(rotated)
    finally:
        rotated.close()
    only_new = open_store(database_url, secrets=SecretBox([new]))
    try:
        assert only_new.get(sealed_id).webhook_url == URL
        assert only_new.get(clear_id).webhook_url == URL
    finally:
        only_new.close()
