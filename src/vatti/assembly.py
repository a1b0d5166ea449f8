"""Wire the parts into a running service from validated settings (the only place that does).

``vatti serve`` and ``vatti run`` build the same :class:`Service`: the job store (migrated to
head), the object store and its work areas, the local executor, the webhook notifier and the
engine; ``serve`` puts the HTTP API in front of it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from vatti.api.app import create_app
from vatti.api.config import ApiConfig
from vatti.config import Settings, runtime_launch_settings
from vatti.domain.jobs import Job
from vatti.engine.context import EngineConfig, EngineContext
from vatti.engine.service import Engine
from vatti.executors.local import LocalExecutor
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


def engine_config(settings: Settings, *, input_root: Path | None = None) -> EngineConfig:
    """The engine's config, with what it passes to each job's runtime."""
    engine = settings.engine
    assert engine is not None, "the engine settings were not loaded"
    runtime = runtime_launch_settings(settings, input_root=input_root)
    return EngineConfig.from_settings(engine, runtime)


class JobLogs:
    """A job's log: the one saved in its area once it ended, else the executor's live one."""

    def __init__(self, areas: ObjectWorkAreas, executor: LocalExecutor) -> None:
        self.areas = areas
        self.executor = executor

    def read_log(self, job: Job, max_bytes: int) -> bytes | None:
        saved = self.areas.read_log(job.id)
        if saved is not None:
            return saved[-max_bytes:]
        try:
            with self.executor.log_path(job.id).open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - max_bytes))
                return fh.read()
        except (OSError, ValueError):
            return None


@dataclass
class Service:
    settings: Settings
    store: SqlJobStore
    objects: ObjectStore
    areas: ObjectWorkAreas
    executor: LocalExecutor
    registry: PipelineRegistry
    engine: Engine
    jobs: JobService

    def close(self) -> None:
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
    executor = LocalExecutor(settings.data_dir)
    engine_settings = settings.engine
    assert engine_settings is not None
    secret = engine_settings.webhook_secret
    ctx = EngineContext(
        store=store,
        executor=executor,
        areas=areas,
        outcomes=ObjectOutcomes(objects),
        config=engine_config(settings, input_root=input_root),
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
