"""PostgreSQL wake-ups cross processes: a NOTIFY from anywhere nudges a listening engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vatti.engine.wakeups import PostgresWakeups
from vatti.store.connect import create_db_engine

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def db(postgres_database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(postgres_database_url)
    yield engine
    engine.dispose()


class Woken:
    def __init__(self) -> None:
        self.loops: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, *loops: str) -> None:
        with self.changed:
            self.loops.extend(loops)
            self.changed.notify_all()

    def wait_for(self, loop: str, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: loop in self.loops, timeout)


def test_a_notify_from_another_process_wakes_the_listening_engine(db: sa.Engine) -> None:
    listener, sender = PostgresWakeups(db), PostgresWakeups(db)
    woken = Woken()
    listener.subscribe(woken)
    with listener.listening():
        # on connecting, the listener wakes every loop once (what it may have missed)
        assert woken.wait_for("notifier")
        woken.loops.clear()
        sender.notify("cancel")
        assert woken.wait_for("cancel")
        with db.begin() as conn:  # any client's NOTIFY (another replica, psql) counts
            conn.execute(sa.text("NOTIFY vatti_admission"))
        assert woken.wait_for("admission")
    assert "notifier" not in woken.loops


def test_notify_wakes_this_process_without_listening(db: sa.Engine) -> None:
    wakeups = PostgresWakeups(db)
    woken = Woken()
    wakeups.subscribe(woken)
    wakeups.notify("outbox")
    assert woken.loops == ["notifier"]


def test_a_lost_wakeup_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = create_db_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        PostgresWakeups(unreachable).notify("admission")
    finally:
        unreachable.dispose()
    assert any("engine.wakeup_not_sent" in r.getMessage() for r in caplog.records)
