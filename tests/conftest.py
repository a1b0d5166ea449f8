"""Shared fixtures: fresh, migrated databases for each test.

- ``sqlite_database_url``: a migrated SQLite file in the test's tmp dir (copied from a template
  migrated once per session).
- ``postgres_database_url``: a fresh PostgreSQL database cloned from a migrated template database
  (``CREATE DATABASE ... TEMPLATE ...``) and dropped afterwards. Skips locally and fails in CI
  when PostgreSQL is unreachable (``vatti.testing.services.postgres_url``).
- ``database_url``: both of the above, parametrised (the PostgreSQL case is marked ``postgres``).
- ``s3_server``: moto's S3 server on loopback, started once per session and reset for each test
  (``vatti.testing.s3``).
- ``slurm_cluster``: the single-node SLURM cluster of ``scripts/slurm-up``, started once per
  session (stopped at its end when the session started it; ``vatti.testing.slurm``).
- ``kube_api``: kmock's Kubernetes API emulator on loopback, started once per session (each test
  uses a namespace of its own; ``vatti.testing.kube_api``).
- ``shared``: a directory where a test and its jobs' commands signal each other (as root the
  commands run under uids of their own, which cannot reach the test's 0700 tmp dirs).
- ``standins``: the loopback stand-ins of the transfer collection, its OAuth2 token endpoint and
  the key handler (one server per session, its state reset for each test).
- ``kafka_broker`` / ``kafka_topics``: Tansu on loopback, started once per session
  (``vatti.testing.kafka``), and this test's own topic and group names.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from vatti.store.migrate import migrate
from vatti.testing.executors import shared_with_jobs
from vatti.testing.kafka import Broker, Topics, start_broker, unique_topics
from vatti.testing.kube_api import ApiServerThread, running_api_server
from vatti.testing.s3 import S3Server, start_s3_server
from vatti.testing.services import postgres_url
from vatti.testing.slurm import Cluster
from vatti.testing.slurm import slurm_cluster as start_slurm_cluster
from vatti.testing.standins import StandIns


@pytest.fixture
def shared() -> Iterator[Path]:
    with shared_with_jobs() as path:
        yield path


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "vatti.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_database_url(_sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "db" / "vatti.db"
    target.parent.mkdir()
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


def _admin_engine(url: str) -> sa.Engine:
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


def _database_url(admin_url: str, name: str) -> str:
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[tuple[str, str]]:
    admin_url = postgres_url()
    name = f"vatti_tmpl_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        migrate(_database_url(admin_url, name))
        yield admin_url, name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_database_url(_postgres_template: tuple[str, str]) -> Iterator[str]:
    admin_url, template = _postgres_template
    name = f"vatti_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _database_url(admin_url, name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A fresh, empty (unmigrated) PostgreSQL database, dropped afterwards."""
    admin_url = postgres_url()
    name = f"vatti_empty_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(admin_url, name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend."""
    fixture = "sqlite_database_url" if request.param == "sqlite" else "postgres_database_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def _s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_server(_s3_server: S3Server) -> S3Server:
    """moto's S3 server (one per session), emptied for this test."""
    _s3_server.reset()
    return _s3_server


@pytest.fixture(scope="session")
def _standins_server() -> Iterator[StandIns]:
    server = StandIns()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def standins(_standins_server: StandIns) -> StandIns:
    _standins_server.reset()
    return _standins_server


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    cluster = start_slurm_cluster()
    yield cluster
    cluster.cancel_all()
    cluster.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Tansu (one per session); tests keep apart by their own topics (``kafka_topics``)."""
    broker = start_broker(tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topics() -> Topics:
    return unique_topics()


@pytest.fixture(scope="session")
def kube_api() -> Iterator[ApiServerThread]:
    with running_api_server() as server:
        yield server
