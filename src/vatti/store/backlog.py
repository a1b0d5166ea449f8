"""The notification outbox's backlog, for the dashboard's summary: what waits, what gave up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from vatti.store.schema import outbox


@dataclass(frozen=True)
class OutboxBacklog:
    #: messages not delivered yet (being retried or due)
    pending: int
    #: messages given up on (dead) in all
    dead: int
    #: when the oldest pending message was queued (None: none pends)
    oldest_pending_at: datetime | None
    #: pending messages that failed at least once
    retrying: int


def outbox_backlog(engine: sa.Engine) -> OutboxBacklog:
    waiting = sa.and_(outbox.c.delivered_at.is_(None), outbox.c.dead_at.is_(None))
    query = sa.select(
        sa.func.count().filter(waiting),
        sa.func.count().filter(outbox.c.dead_at.is_not(None)),
        sa.func.min(outbox.c.created_at).filter(waiting),
        sa.func.count().filter(sa.and_(waiting, outbox.c.attempts > 0)),
    )
    with engine.connect() as conn:
        pending, dead, oldest, retrying = conn.execute(query).one()
    if isinstance(oldest, str):  # SQLite hands an aggregate back untyped
        oldest = datetime.fromisoformat(oldest)
    return OutboxBacklog(int(pending), int(dead), oldest, int(retrying))
