"""The Celery executor's state store (Redis): claims, status records, cancel requests and logs.

vatti stays the one source of truth for job state: Celery only carries the task to a worker.
Every fact about one attempt of a job that the engine needs lives here, written by the worker
that runs it and read by the executor from the handle alone:

- ``…:{job}:{attempt}:sent`` — written by the executor before it publishes the task: an attempt
  with neither this nor a claim is one the store has lost (flushed, restarted without
  persistence, or past its TTL), which no worker will ever report on.
- ``…:{job}:{attempt}:claim`` — who may run the attempt, taken with ``SET NX``: the first worker
  (or a cancellation before any worker took it, :data:`CANCELLED`). Every later delivery of the
  task (a duplicate publish, a redelivery after a visibility timeout or a lost worker, one that
  arrives after the job ended) finds it taken and is discarded, so an attempt runs at most once.
  Redis rather than the job database: the workers need no database access (nor its
  credentials), ``SET NX`` is atomic, and the claim expires by itself after the record TTL.
- ``…:{job}:{attempt}:run`` — a hash: ``state`` (``running`` then ``exited``), the Celery node,
  host and pids, and the exit ``code``, ``reason`` and ``limit``.
- ``…:{job}:{attempt}:alive`` — the heartbeat of whoever holds the claim (a short TTL, renewed
  every second): a running attempt without it is vanished.
- ``…:{job}:{attempt}:cancel`` — a list the job's wrapper pops (blocking, so it reacts at once):
  the grace in seconds.
- ``…:{job}:{attempt}:discards`` — the deliveries a worker discarded (worker and why).
- ``…:{job}:log`` — the job's stdout and stderr, appended as they are written (every attempt
  appends, as a local run's log does), read by offset with ``GETRANGE``.

Exits are announced on the channel :data:`EXITS_CHANNEL` (the job id), for
:class:`~vatti.executors.base.ReportsExits`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import redis
from redis.typing import EncodableT, FieldT

PREFIX: Final = "vatti:celery:"
EXITS_CHANNEL: Final = PREFIX + "exits"
#: the claim's owner when an attempt was cancelled before a worker took it
CANCELLED: Final = "cancelled"
#: the claim and its first heartbeat, at once
_CLAIM: Final = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('set', KEYS[2], '1', 'EX', ARGV[3])
  return 1
end
return 0
"""
#: seconds a heartbeat lives; renewed every :data:`HEARTBEAT_EVERY_S`
HEARTBEAT_TTL_S: Final = 15
HEARTBEAT_EVERY_S: Final = 1.0
#: a job's log stops growing in the store past this (a note says so)
MAX_LOG_BYTES: Final = 64 << 20
LOG_TRUNCATED: Final = b"\n[vatti: log truncated: over 64 MiB]\n"


def _text(value: object) -> str:
    """A Redis reply as text.

    >>> _text(b"a"), _text("b")
    ('a', 'b')
    """
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class RunRecord:
    """What the store says about one attempt, read in one round trip."""

    claimant: str | None
    alive: bool
    state: str | None
    code: int | None = None
    reason: str | None = None
    limit: str | None = None
    #: the Celery node (worker) that ran it, for its clean-up
    node: str | None = None
    #: the executor recorded that it published the attempt
    sent: bool = True


class RunRecords:
    """The state store; safe to share between threads (redis-py's pool)."""

    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        self.client = client
        self.ttl_s = max(1, int(ttl_s))

    @classmethod
    def from_url(cls, url: str, ttl_s: float) -> RunRecords:
        return cls(redis.Redis.from_url(url, socket_connect_timeout=10), ttl_s)

    # -- keys -----------------------------------------------------------------------------------

    @staticmethod
    def key(job_id: str, attempt: int, what: str) -> str:
        """The key of one attempt's record ``what``.

        >>> RunRecords.key("j1", 2, "claim")
        'vatti:celery:j1:2:claim'
        """
        return f"{PREFIX}{job_id}:{attempt}:{what}"

    @staticmethod
    def log_key(job_id: str) -> str:
        return f"{PREFIX}{job_id}:log"

    # -- publishing, claims and heartbeats -------------------------------------------------------

    def mark_sent(self, job_id: str, attempt: int) -> None:
        """Record that the attempt's task is being published (before it is)."""
        self.client.set(self.key(job_id, attempt, "sent"), "1", ex=self.ttl_s)

    def forget_sent(self, job_id: str, attempt: int) -> None:
        """The attempt's task could not be published after all."""
        self.client.delete(self.key(job_id, attempt, "sent"))

    def claim(self, job_id: str, attempt: int, owner: str) -> bool:
        """Take the attempt for ``owner``, with its first heartbeat in the same step (a reader
        never sees a claim without one); False when someone (or a cancellation) has it."""
        keys = [self.key(job_id, attempt, "claim"), self.key(job_id, attempt, "alive")]
        return bool(self.client.eval(_CLAIM, 2, *keys, owner, self.ttl_s, HEARTBEAT_TTL_S))

    def beat(self, job_id: str, attempt: int) -> None:
        self.client.set(self.key(job_id, attempt, "alive"), "1", ex=HEARTBEAT_TTL_S)

    def note_discard(self, job_id: str, attempt: int, worker: str, why: str) -> None:
        key = self.key(job_id, attempt, "discards")
        with self.client.pipeline() as pipe:
            pipe.rpush(key, f"{worker}: {why}")
            pipe.expire(key, self.ttl_s)
            pipe.execute()

    def discards(self, job_id: str, attempt: int) -> list[str]:
        items = self.client.lrange(self.key(job_id, attempt, "discards"), 0, -1)
        return [_text(item) for item in items]

    # -- status -----------------------------------------------------------------------------------

    def mark_running(self, job_id: str, attempt: int, fields: dict[str, str]) -> None:
        key = self.key(job_id, attempt, "run")
        mapping: dict[FieldT, EncodableT] = {"state": "running"}
        mapping.update(fields)
        with self.client.pipeline() as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self.ttl_s)
            pipe.execute()

    def mark_exited(
        self, job_id: str, attempt: int, code: int, reason: str | None, limit: str | None = None
    ) -> None:
        """Record the attempt's exit (once: a later call keeps the first) and announce it."""
        key = self.key(job_id, attempt, "run")
        fields: dict[FieldT, EncodableT] = {"state": "exited", "code": str(code)}
        fields.update({k: v for k, v in (("reason", reason), ("limit", limit)) if v is not None})
        with self.client.pipeline() as pipe:
            pipe.watch(key)  # type: ignore[no-untyped-call]
            if pipe.hget(key, "state") == b"exited":
                pipe.reset()
                return
            pipe.multi()
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.ttl_s)
            pipe.delete(self.key(job_id, attempt, "alive"))
            pipe.publish(EXITS_CHANNEL, job_id)
            try:
                pipe.execute()
            except redis.WatchError:
                return  # another writer recorded an exit first

    def read(self, job_id: str, attempt: int) -> RunRecord:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self.key(job_id, attempt, "claim"))
            pipe.exists(self.key(job_id, attempt, "alive"))
            pipe.hgetall(self.key(job_id, attempt, "run"))
            pipe.exists(self.key(job_id, attempt, "sent"))
            claim, alive, run, sent = pipe.execute()
        fields = {_text(k): _text(v) for k, v in run.items()}
        code = fields.get("code")
        return RunRecord(
            claimant=None if claim is None else _text(claim),
            alive=bool(alive),
            state=fields.get("state"),
            code=None if code is None else int(code),
            reason=fields.get("reason"),
            limit=fields.get("limit"),
            node=fields.get("node"),
            sent=bool(sent),
        )

    # -- cancellation -----------------------------------------------------------------------------

    def request_cancel(self, job_id: str, attempt: int, grace_s: float) -> None:
        key = self.key(job_id, attempt, "cancel")
        with self.client.pipeline() as pipe:
            pipe.rpush(key, repr(float(grace_s)))
            pipe.expire(key, self.ttl_s)
            pipe.execute()

    def take_cancel(self, job_id: str, attempt: int, timeout_s: float) -> float | None:
        """Wait up to ``timeout_s`` for a cancel request; its grace, or None."""
        got = self.client.blpop([self.key(job_id, attempt, "cancel")], timeout=timeout_s)
        return None if got is None else float(got[1])

    # -- logs -------------------------------------------------------------------------------------

    def append_log(self, job_id: str, data: bytes) -> int:
        """Append to the job's log; its length after, or -1 when it is full (nothing added)."""
        key = self.log_key(job_id)
        size = int(self.client.strlen(key))
        if size >= MAX_LOG_BYTES:
            return -1
        if size + len(data) > MAX_LOG_BYTES:
            data = data[: MAX_LOG_BYTES - size] + LOG_TRUNCATED
        with self.client.pipeline() as pipe:
            pipe.append(key, data)
            pipe.expire(key, self.ttl_s)
            length, _ = pipe.execute()
        return int(length)

    def read_log(self, job_id: str, offset: int, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of the job's log from ``offset``; None when it has none."""
        key = self.log_key(job_id)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.getrange(key, offset, offset + limit - 1)
            exists, data = pipe.execute()
        if not exists:
            return None
        return b"" if limit <= 0 else bytes(data)

    def looked_after(self, job_id: str) -> bool:
        """Whether any attempt of the job is claimed and beating (its wrapper is alive)."""
        return any(True for _ in self.client.scan_iter(match=f"{PREFIX}{job_id}:*:alive"))

    def logged_jobs(self) -> Iterator[str]:
        for key in self.client.scan_iter(match=f"{PREFIX}*:log", count=500):
            yield _text(key)[len(PREFIX) : -len(":log")]

    def delete_job(self, job_id: str) -> None:
        """Every record of the job, log included."""
        keys = list(self.client.scan_iter(match=f"{PREFIX}{job_id}:*", count=500))
        if keys:
            self.client.delete(*keys)

    # -- exit announcements -----------------------------------------------------------------------

    def listen_exits(self, callback: Callable[[str], None], stop: threading.Event) -> None:
        """Call ``callback(job_id)`` for each announced exit until ``stop`` is set."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(EXITS_CHANNEL)
            while not stop.is_set():
                try:
                    message = pubsub.get_message(timeout=0.5)
                except redis.RedisError:
                    stop.wait(1.0)
                    continue
                if message is not None and message.get("type") == "message":
                    callback(_text(message["data"]))
        finally:
            pubsub.close()

    def close(self) -> None:
        self.client.close()
