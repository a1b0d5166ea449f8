"""Real Celery workers for tests: ``vatti worker`` subprocesses on the machine's Redis or RabbitMQ.

:class:`Broker` names a broker and the Redis database of the state store; :class:`WorkerProcess`
starts ``python -m vatti worker`` with the settings of a :class:`CeleryWorld` (one queue of its
own, so runs on the same broker do not meet), waits until it logs that it is ready, and can
stop it (warm shutdown) or kill it as a lost host would be (SIGKILL to the worker and its pool,
not to the jobs' sessions, which outlive it).
"""

from __future__ import annotations

import contextlib
import os
import secrets as random_secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psutil

from vatti.secretbox import new_key
from vatti.testing.job_scripts import ENTRY
from vatti.testing.services import missing, tcp_open

if TYPE_CHECKING:
    from vatti.config import CelerySettings

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
#: Redis databases of the tests: brokers' messages, and the state stores (flushed between tests).
#: ``VATTI_TEST_REDIS_DBS=broker,state`` moves them, so two test runs on one machine do not flush
#: each other's.
BROKER_DB, STATE_DB = (int(n) for n in os.environ.get("VATTI_TEST_REDIS_DBS", "12,13").split(","))
READY = "ready."
#: the module a pool process's job launcher runs (a session of its own, but the worker's)
LAUNCHER = "vatti.executors.launcher"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Broker:
    name: str
    url: str
    state_url: str


def redis_broker() -> Broker:
    if not tcp_open(REDIS_HOST, REDIS_PORT):
        missing(f"Redis at {REDIS_HOST}:{REDIS_PORT}", "start redis-server")
    base = f"redis://{REDIS_HOST}:{REDIS_PORT}"
    return Broker("redis", f"{base}/{BROKER_DB}", f"{base}/{STATE_DB}")


def rabbitmq_broker() -> Broker:
    if not tcp_open("127.0.0.1", 5672):
        missing("RabbitMQ at 127.0.0.1:5672", "start rabbitmq-server (user guest/guest)")
    if not tcp_open(REDIS_HOST, REDIS_PORT):
        missing(f"Redis at {REDIS_HOST}:{REDIS_PORT}", "start redis-server (the state store)")
    return Broker("rabbitmq", RABBITMQ_URL, f"redis://{REDIS_HOST}:{REDIS_PORT}/{STATE_DB}")


@dataclass
class CeleryWorld:
    """The settings one group of workers and executors share (a queue of its own)."""

    broker: Broker
    data_dir: Path
    queue: str = field(default_factory=lambda: f"vatti-test-{random_secrets.token_hex(4)}")
    secrets_key: str = field(default_factory=new_key)
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "VATTI_CELERY_BROKER_URL": self.broker.url,
            "VATTI_CELERY_STATE_URL": self.broker.state_url,
            "VATTI_CELERY_SECRETS_KEY": self.secrets_key,
            "VATTI_CELERY_DEFAULT_QUEUE": self.queue,
            "VATTI_DATA_DIR": str(self.data_dir),
            **self.extra,
            **overrides,
        }

    def settings(self, **overrides: str) -> CelerySettings:
        """The Celery settings group of this world (for an executor)."""
        from vatti.config import CelerySettings

        return CelerySettings.from_environment(environ=self.env(**overrides))

    def flush_state(self) -> None:
        import redis

        client = redis.Redis.from_url(self.broker.state_url)
        try:
            client.flushdb()
        finally:
            client.close()

    def delete_queue(self) -> None:
        """Remove the world's queue (and its exchange) from the broker."""
        from vatti.executors.celery_app import make_app

        app = make_app(self.settings())
        with app.connection_for_write() as conn, contextlib.suppress(Exception):
            channel = conn.default_channel
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.queue)


class WorkerProcess:
    """One ``vatti worker`` subprocess; its output goes to ``log_path``."""

    def __init__(
        self,
        world: CeleryWorld,
        name: str,
        *,
        concurrency: int = 1,
        events: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.world = world
        self.name = name
        self.log_path = world.data_dir / f"worker-{name}.log"
        self.ready = threading.Event()
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("VATTI_")}
        argv = [
            sys.executable,
            "-m",
            "vatti",
            "worker",
            "--job-entry",
            ENTRY,
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"{name}@{world.queue}",
        ]
        if events:
            argv.append("--events")
        world.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            argv,
            env={**base, **world.env(**dict(env or {})), "VATTI_LOG_LEVEL": "INFO"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream, self.log_path.open("ab") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if READY.encode() in line:
                    self.ready.set()
        self.ready.set()  # it exited: wait_ready says so

    def wait_ready(self) -> WorkerProcess:
        if not self.ready.wait(START_TIMEOUT_S) or self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} did not start:\n{self.output()}")
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _family(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        """The worker's processes (its main and pool processes, and their job launchers), and
        the jobs' (their wrappers' sessions)."""
        try:
            main = psutil.Process(self.process.pid)
            sid = os.getsid(main.pid)
            family = [main, *main.children(recursive=True)]
        except (psutil.NoSuchProcess, ProcessLookupError):
            return [], []
        mine: list[psutil.Process] = []
        jobs: list[psutil.Process] = []
        for proc in family:  # parents before children
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                pool = {p.pid for p in mine if os.getsid(p.pid) == sid}
                # a launcher is a pool process's child; the wrappers it forks run its code too
                launcher = proc.ppid() in pool and LAUNCHER in " ".join(proc.cmdline())
                (mine if os.getsid(proc.pid) == sid or launcher else jobs).append(proc)
        return mine, jobs

    def own_processes(self) -> list[psutil.Process]:
        """The worker, its pool processes and their launchers (not the jobs)."""
        return self._family()[0]

    def job_processes(self) -> list[psutil.Process]:
        """The processes of the jobs this worker started (their wrappers' sessions)."""
        return self._family()[1]

    def rss_mb(self) -> float:
        """Resident memory of the worker and its pool processes, in MiB."""
        total = 0
        for proc in self.own_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total / (1 << 20)

    def pool_processes(self) -> list[psutil.Process]:
        """The pool processes and their launchers."""
        return [p for p in self.own_processes() if p.pid != self.process.pid]

    def kill(self, *, pool_only: bool = False) -> None:
        """SIGKILL the worker (and its pool), or only its pool processes (a lost pool child)."""
        victims = self.pool_processes() if pool_only else self.own_processes()
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        if not pool_only:
            self.process.wait(timeout=30)

    def ask_to_stop(self) -> None:
        """Start a warm shutdown (SIGTERM): running jobs end first."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it is still there after a while."""
        if self.process.poll() is None:
            self.ask_to_stop()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        for proc in self.own_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self._reader.join(timeout=5)


@contextlib.contextmanager
def running_workers(
    world: CeleryWorld,
    *names: str,
    concurrency: int = 1,
    events: bool = False,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[WorkerProcess]]:
    """Start workers named ``names`` on the world's queue (at once); stop them after."""
    workers: list[WorkerProcess] = []
    try:
        for name in names:
            workers.append(
                WorkerProcess(world, name, concurrency=concurrency, events=events, env=env)
            )
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            worker.ask_to_stop()  # all at once: a warm shutdown takes a second or two
        for worker in workers:
            worker.stop()
