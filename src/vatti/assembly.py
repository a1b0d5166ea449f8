"""Wire the parts into a running service from validated settings (the only place that does).

``vatti serve`` and ``vatti run`` build the same :class:`Service`: the job store (migrated to
head), the object store and its work areas, the local executor, the webhook notifier and the
engine; ``serve`` puts the HTTP API in front of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from vatti.api.app import create_app
from vatti.api.config import ApiConfig
from vatti.config import PREFIX, Settings
from vatti.domain.jobs import Job
from vatti.engine.context import EngineConfig, EngineContext
from vatti.engine.service import Engine
from vatti.errors import VattiError
from vatti.executors.base import Closeable, Executor
from vatti.executors.registry import build_executor
from vatti.notify.backoff import ExponentialBackoff
from vatti.notify.webhook import WebhookNotifier
from vatti.pipelines.base import PipelineRegistry, default_registry
from vatti.service.jobs import JobService, NudgeWakeups
from vatti.staging.areas import ObjectOutcomes, ObjectWorkAreas
from vatti.staging.objects import ObjectStore
from vatti.store.connect import sqlite_url
from vatti.store.migrate import migrate
from vatti.store.sql import SqlJobStore, open_store

log = logging.getLogger("vatti.service")


def database_url(settings: Settings) -> str:
    return settings.database_url() or sqlite_url(settings.data_dir)


def runtime_env(settings: Settings, *, input_root: Path | None) -> dict[str, str]:
    """The settings a job's process needs (never the database URL nor any other secret)."""
    env = {
        f"{PREFIX}DATA_DIR": str(settings.data_dir),
        f"{PREFIX}LOG_LEVEL": settings.common.log_level,
        f"{PREFIX}OBJECT_STORE_URL": settings.object_store_url(),
        f"{PREFIX}SCRATCH_DIR": str(settings.scratch_dir()),
        f"{PREFIX}PGS_CATALOG_DIR": str(settings.pgs_catalog_dir()),
    }
    runtime = settings.runtime
    if runtime is not None:
        env[f"{PREFIX}PGS_CATALOG_URL"] = runtime.pgs_catalog_url
        env[f"{PREFIX}PGS_OFFLINE"] = "1" if runtime.pgs_offline else "0"
        input_root = input_root or runtime.input_root
    else:
        configured = os.environ.get(f"{PREFIX}INPUT_ROOT")
        input_root = input_root or (Path(configured) if configured else None)
    if input_root is not None:
        env[f"{PREFIX}INPUT_ROOT"] = str(input_root.resolve())
    return env


def engine_config(settings: Settings, env: Mapping[str, str]) -> EngineConfig:
    engine = settings.engine
    assert engine is not None, "the engine settings were not loaded"
    return EngineConfig(
        max_concurrent_jobs=engine.max_concurrent_jobs,
        poll_interval_s=engine.poll_interval,
        reconcile_interval_s=engine.reconcile_interval,
        queue_timeout_s=engine.queue_timeout,
        provision_timeout_s=engine.provision_timeout,
        default_memory_mb=engine.job_memory_mb,
        default_wall_time_s=int(engine.job_wall_time) if engine.job_wall_time else None,
        results_ttl_s=engine.results_ttl,
        terminate_grace_s=engine.terminate_grace,
        webhook_url=engine.webhook_url,
        runtime_env=dict(env),
    )


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
    objects: ObjectStore
    areas: ObjectWorkAreas
    executor: Executor
    registry: PipelineRegistry
    engine: Engine
    jobs: JobService

    def close(self) -> None:
        if isinstance(self.executor, Closeable):
            self.executor.close()
        self.store.close()

    def app(self) -> FastAPI:
        api = self.settings.api
        assert api is not None, "the api settings were not loaded"
        config = ApiConfig(
            tokens=api.token_scopes(),
            auth_disabled=api.auth == "none",
            max_body_bytes=api.max_body_bytes,
            dedup_window_s=api.dedup_window,
        )
        return create_app(self.jobs, config, engine_alive=lambda: self.engine.alive)


def open_service(settings: Settings, *, input_root: Path | None = None) -> Service:
    """Build the service; the database is migrated to head first."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(settings)
    migrate(url)
    store = open_store(url)
    objects = ObjectStore.from_url(settings.object_store_url())
    areas = ObjectWorkAreas(objects)
    engine_settings = settings.engine
    assert engine_settings is not None
    executor = build_executor(settings, engine_settings.executor)
    secret = engine_settings.webhook_secret
    env = runtime_env(settings, input_root=input_root)
    ctx = EngineContext(
        store=store,
        executor=executor,
        areas=areas,
        outcomes=ObjectOutcomes(objects),
        config=engine_config(settings, env),
        notifier=WebhookNotifier(secret.get_secret_value() if secret is not None else None),
        retry=ExponentialBackoff(),
        scratch_root=settings.scratch_dir(),
    )
    engine = Engine(ctx)
    registry = default_registry()
    jobs = JobService(
        store=store,
        registry=registry,
        results=areas,
        logs=JobLogs(areas, executor),
        wakeups=NudgeWakeups(engine.nudge),
        notify=ctx.notify,
        dedup_window_s=settings.api.dedup_window if settings.api is not None else 0.0,
    )
    return Service(settings, store, objects, areas, executor, registry, engine, jobs)
