"""API integration fixtures: the real app over a real Engine and SQL store (SQLite/PostgreSQL).

Executor, work areas and outcomes are inert (these tests never run the engine's loops on jobs);
outputs and logs are read from plain directories the tests fill in.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from vatti.api import ApiConfig, create_app
from vatti.api.auth import hash_token
from vatti.domain.jobs import Job
from vatti.domain.manifest import Manifest
from vatti.domain.states import JobState
from vatti.engine.context import EngineContext
from vatti.engine.service import Engine
from vatti.pipelines.base import PipelineRegistry, default_registry
from vatti.service.jobs import JobService
from vatti.staging.errors import ObjectNotFound
from vatti.store.base import JobStore
from vatti.store.sql import open_store
from vatti.testing.config import engine_config
from vatti.testing.fakes import InertAreas, InertExecutor, NoOutcomes
from vatti.tokens import ConfiguredToken, parse_token_entry

TOKENS = {
    "submitter": "tok-submit-1",
    "reader": "tok-read-1",
    "admin": "tok-admin-1",
    "lab-a": "tok-lab-a-1",
    "lab-b": "tok-lab-b-1",
    "hello-only": "tok-hello-1",
    "pgs-only": "tok-pgs-1",
}
#: each token's tenant ("" for the default one) and scopes, as VATTI_API_TOKENS spells them
ENTRIES = {
    "submitter": ("", "submit"),
    "reader": ("", "read"),
    "admin": ("", "admin"),
    "lab-a": ("lab-a@", "submit,read"),
    "lab-b": ("lab-b@", "submit,read"),
    "hello-only": ("lab-a@", "submit:command:hello,read"),
    "pgs-only": ("lab-a@", "submit:pgs,read"),
}


def configured_tokens() -> dict[str, ConfiguredToken]:
    entries = [
        parse_token_entry(f"{tenant}{hash_token(TOKENS[who])}:{scopes}")
        for who, (tenant, scopes) in ENTRIES.items()
    ]
    return {t.digest: t for t in entries}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@dataclass
class DirOutputs:
    """Results laid out as ``<root>/<job>/manifest.json`` and ``<root>/<job>/results/<name>``."""

    root: Path

    def add(self, job_id: str, files: Mapping[str, bytes]) -> None:
        entries = []
        for name, data in files.items():
            path = self.root / job_id / "results" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            entries.append({"name": name, "size": len(data), "sha256": digest})
        manifest = {"job_id": job_id, "outputs": entries}
        (self.root / job_id / "manifest.json").write_text(json.dumps(manifest))

    def manifest(self, job_id: str) -> Manifest:
        path = self.root / job_id / "manifest.json"
        if not path.is_file():
            raise ObjectNotFound(job_id)
        return Manifest.from_json(job_id, path.read_bytes())

    def open_output(self, job_id: str, name: str) -> Iterator[bytes]:
        path = self.root / job_id / "results" / name
        if not path.is_file():
            raise ObjectNotFound(name)

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while block := fh.read(4096):
                    yield block

        return chunks()


@dataclass
class DirLogs:
    root: Path

    def read_log(self, job: Job, max_bytes: int) -> bytes | None:
        path = self.root / f"{job.id}.log"
        return path.read_bytes()[-max_bytes:] if path.is_file() else None


@dataclass
class Api:
    app: FastAPI
    engine: Engine
    store: JobStore
    jobs: JobService
    outputs: DirOutputs
    logs: DirLogs
    config: ApiConfig
    servers: list[tuple[uvicorn.Server, threading.Thread]] = field(default_factory=list)

    def job_count(self) -> int:
        return self.store.count_in_states(list(JobState))

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://api.test", **kwargs)

    def serve(self) -> str:
        """Run the app under uvicorn in a thread on a free loopback port; returns its base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)  # connections queue here until the server accepts them
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, lifespan="off", log_level="warning", ws="none", http="h11", loop="asyncio"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        self.servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    def stop_servers(self) -> None:
        for server, thread in self.servers:
            server.should_exit = True
            thread.join(timeout=30)


def build_api(
    database_url: str,
    tmp_path: Path,
    *,
    registry: PipelineRegistry | None = None,
    **config: Any,
) -> Api:
    store = open_store(database_url)
    ctx = EngineContext(
        store=store,
        executor=InertExecutor(),
        areas=InertAreas(),
        outcomes=NoOutcomes(),
        config=engine_config(poll_interval_s=0.05),
    )
    engine = Engine(ctx)
    # no rate limit unless a test asks for one (its own tests set it)
    api_config = ApiConfig(**{"tokens": configured_tokens(), "submit_rate_per_min": 0, **config})
    outputs = DirOutputs(tmp_path / "results")
    logs = DirLogs(tmp_path / "logs")
    jobs = JobService(
        store=store,
        registry=registry or default_registry(),
        results=outputs,
        logs=logs,
        wakeups=engine.wakeups,
        notify=ctx.notify,
        dedup_window_s=api_config.dedup_window_s,
    )
    app = create_app(jobs, api_config, engine_alive=lambda: engine.alive)
    return Api(app, engine, store, jobs, outputs, logs, api_config)


@pytest.fixture
def api(sqlite_database_url: str, tmp_path: Path) -> Iterator[Api]:
    built = build_api(sqlite_database_url, tmp_path)
    try:
        yield built
    finally:
        built.stop_servers()
        built.store.close()


@pytest.fixture
def api_any_db(database_url: str, tmp_path: Path) -> Iterator[Api]:
    built = build_api(database_url, tmp_path)
    try:
        yield built
    finally:
        built.stop_servers()
        built.store.close()


@pytest.fixture
async def client(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as c:
        yield c


def command_body(name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A request of a shipped command: ``noop``, or ``hello`` greeting ``name``."""
    params = {"command": "noop"} if name is None else {"command": "hello", "args": {"name": name}}
    return {"pipeline": "command", "params": params, **extra}
