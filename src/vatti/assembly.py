"""Wire the parts into a running service from validated settings (the only place that does).

``vatti serve``, ``vatti engine`` and ``vatti run`` build the same :class:`Service`: the job
store (migrated to head), the object store and its work areas, the local executor, the webhook
notifier and the engine with its wake-ups; ``serve`` puts the HTTP API in front of it and runs
the engine in the app's lifespan (:class:`EngineRunner`), unless it is an API-only replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from vatti.api.app import create_app
from vatti.api.auth import StoredTokens
from vatti.api.config import ApiConfig
from vatti.config import Settings, runtime_launch_settings
from vatti.dashboard.wiring import dashboard_config
from vatti.domain.jobs import Job
from vatti.domain.urls import redact_url
from vatti.engine.context import EngineConfig, EngineContext
from vatti.engine.notifications import WEBHOOK_CHANNEL
from vatti.engine.service import Engine
from vatti.engine.wakeups import InProcessWakeups, PostgresWakeups, Wakeups
from vatti.errors import VattiError
from vatti.executors.base import Closeable, Executor
from vatti.executors.registry import build_executor
from vatti.intake.wiring import kafka_wiring
from vatti.notify.backoff import ExponentialBackoff
from vatti.notify.topic import both
from vatti.notify.webhook import WebhookNotifier
from vatti.pipelines.base import PipelineRegistry, settings_registry
from vatti.secretbox import SecretBox, key_file_keys
from vatti.service.jobs import JobService
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
from vatti.staging.stores import Stores, open_stores
from vatti.store.connect import sqlite_url
from vatti.store.migrate import migrate
from vatti.store.sql import SqlJobStore, open_store
from vatti.store.tokens import SqlTokenStore

log = logging.getLogger("vatti.service")


def database_url(settings: Settings) -> str:
    return settings.database_url() or sqlite_url(settings.data_dir)


def engine_config(settings: Settings, *, input_root: Path | None = None) -> EngineConfig:
    """The engine's config, with what it passes to each job's runtime."""
    engine = settings.engine
    assert engine is not None, "the engine settings were not loaded"
    runtime = runtime_launch_settings(settings, input_root=input_root)
    return EngineConfig.from_settings(engine, runtime)


class JobLogs:
    """A job's log: the one saved in its area once it ended, else the executor's live one."""

    def __init__(self, areas: ObjectWorkAreas, executor: Executor) -> None:
        self.areas = areas
        self.executor = executor

    def read_log(self, job: Job, max_bytes: int) -> bytes | None:
        saved = self.areas.read_log(job.id)
        if saved is not None:
            return saved[-max_bytes:]
        try:
            handle = job.executor_handle
            if handle is None:
                return None
            kept, offset = b"", 0
            while (chunk := self.executor.read_log(handle, offset)) is not None and chunk.data:
                kept, offset = (kept + chunk.data)[-max_bytes:], chunk.next_offset
        except (OSError, VattiError):
            return None
        if chunk is None and offset == 0:
            return None
        return kept


@dataclass
class Service:
    settings: Settings
    store: SqlJobStore
    stores: Stores
    areas: ObjectWorkAreas
    executor: Executor
    registry: PipelineRegistry
    engine: Engine
    jobs: JobService

    @property
    def wakeups(self) -> Wakeups:
        """Wakes the engines (this process's and, on PostgreSQL, other processes')."""
        return self.engine.wakeups

    def close(self) -> None:
        if isinstance(self.executor, Closeable):
            self.executor.close()
        self.store.close()

    def app(self, runner: EngineRunner | None = None) -> FastAPI:
        """The HTTP API; with ``runner`` the engine runs in the app's lifespan, without it the
        app is an API-only replica (engines run elsewhere)."""
        api = self.settings.api
        assert api is not None, "the api settings were not loaded"
        config = ApiConfig(
            tokens=api.configured_tokens(),
            auth_disabled=api.auth == "none",
            submit_rate_per_min=api.submit_rate,
            submit_burst=api.submit_burst,
            max_body_bytes=api.max_body_bytes,
            dedup_window_s=api.dedup_window,
            cors_origins=api.cors_origin_list(),
            tls=api.tls,
            metrics_access=api.metrics_access,
            wes_organization=api.wes_organization,
            wes_organization_url=api.wes_organization_url,
            wes_auth_instructions_url=api.wes_auth_instructions_url,
        )
        app = create_app(
            self.jobs,
            config,
            engine_alive=(lambda: self.engine.alive) if runner is not None else None,
            tokens=StoredTokens(SqlTokenStore(self.store.engine).find),
            dashboard=dashboard_config(self.settings, self.store, self.engine),
        )
        if runner is not None:
            app.router.lifespan_context = runner.lifespan
        return app


class EngineRunner:
    """Runs an engine for as long as an app's lifespan lasts.

    The engine starts when the app starts and is stopped (its jobs handed over) when the app
    shuts down. When the engine stops on its own (a loop crashed, or it refused to start)
    ``on_stopped`` is called, so the server stops too, and :attr:`error` says why.
    """

    def __init__(self, engine: Engine, on_stopped: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.on_stopped = on_stopped
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def error(self) -> BaseException | None:
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()

    def _done(self, _task: asyncio.Task[None]) -> None:
        if not self._stopping:
            self.on_stopped()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        self._stopping = False
        self._task = asyncio.create_task(self.engine.run(), name="vatti-engine")
        self._task.add_done_callback(self._done)
        try:
            yield
        finally:
            self._stopping = True
            self.engine.stop()
            await asyncio.wait([self._task])  # its error, if any, stays in :attr:`error`


async def run_engine(engine: Engine) -> None:
    """Run ``engine`` until SIGTERM or SIGINT (``vatti engine``)."""
    import signal

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, engine.stop)
    await engine.run()


def service_secrets(settings: Settings) -> SecretBox:
    """What seals the database's secrets: the configured keys, else the data dir's key file."""
    keys = settings.store.secret_keys()
    return SecretBox(keys if keys is not None else key_file_keys(settings.data_dir))


def set_results_expiry(settings: Settings, ttl_s: float) -> None:
    """Give an S3 results store its lifecycle rule (:mod:`vatti.staging.s3_expiry`); where the
    store refuses one, say so and go on: the sweeper enforces expiry on every store."""
    url = settings.results_store_url()
    if not url.startswith("s3://"):
        return
    from vatti.staging.s3_expiry import ensure_results_expiry

    try:
        change = ensure_results_expiry(url, settings.store, ttl_s)
    except Exception as exc:  # a backstop, not a precondition
        reason = exc.message if isinstance(exc, VattiError) else f"{type(exc).__name__}: {exc}"
        log.warning("results.lifecycle_not_set store=%s: %s", redact_url(url), reason)
        return
    log.info("results.lifecycle_rule store=%s rule=%s", redact_url(url), change)


def open_service(settings: Settings, *, input_root: Path | None = None) -> Service:
    """Build the service; the data dir is made private and the database migrated first."""
    from vatti.isolation.hardening import private_data_dir

    private_data_dir(settings.data_dir, settings.scratch_dir())
    url = database_url(settings)
    migrate(url)
    store = open_store(url, secrets=service_secrets(settings))
    stores = open_stores(settings)
    areas = ObjectWorkAreas(stores.work, stores.results)
    engine_settings = settings.engine
    assert engine_settings is not None
    set_results_expiry(settings, engine_settings.results_ttl)
    executor = build_executor(settings, engine_settings.executor)
    secret = engine_settings.webhook_secret
    ctx = EngineContext(
        store=store,
        executor=executor,
        areas=areas,
        outcomes=ObjectOutcomes(stores.work),
        config=engine_config(settings, input_root=input_root),
        notifier=WebhookNotifier(secret.get_secret_value() if secret is not None else None),
        retry=ExponentialBackoff(),
        scratch_root=settings.scratch_dir(),
    )
    kafka = kafka_wiring(settings.kafka)
    if kafka is not None:  # the status topic is one more outbox destination
        ctx.notify = both(ctx.notify, kafka.notify)
        assert ctx.notifier is not None
        ctx.notifier = kafka.notifier(WEBHOOK_CHANNEL, ctx.notifier)
    if store.engine.dialect.name == "postgresql":
        # engines and API replicas in other processes wake each other (LISTEN/NOTIFY)
        wakeups: InProcessWakeups = PostgresWakeups(store.engine)
        exclusive = False
    else:  # SQLite keeps one engine: wake-ups stay in this process
        wakeups, exclusive = InProcessWakeups(), True
    registry = settings_registry(settings)
    jobs = JobService(
        store=store,
        registry=registry,
        results=areas,
        logs=JobLogs(areas, executor),
        wakeups=wakeups,
        notify=ctx.notify,
        dedup_window_s=settings.api.dedup_window if settings.api is not None else 0.0,
    )
    intake = kafka.intake(jobs, ctx.logger) if kafka is not None else None
    engine = Engine(ctx, wakeups=wakeups, exclusive=exclusive, intake=intake)
    return Service(settings, store, stores, areas, executor, registry, engine, jobs)
