from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vatti.store.connect import create_db_engine
from vatti.store.errors import SchemaTooNew
from vatti.store.migrate import (
    current_revision,
    downgrade,
    head_revision,
    migrate,
    refuse_newer,
    schema_revision,
)
from vatti.store.schema import metadata

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vatti.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


@pytest.fixture
def engine(empty_url: str) -> Iterator[sa.Engine]:
    e = create_db_engine(empty_url, poolclass=sa.NullPool)
    yield e
    e.dispose()


def schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def at_head(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return current_revision(conn) == head_revision()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_head_matches_models(empty_url: str, engine: sa.Engine) -> None:
    assert not at_head(engine)
    migrate(empty_url)
    assert at_head(engine)
    assert schema_diff(engine) == []


def test_detects_drift(empty_url: str, engine: sa.Engine) -> None:
    migrate(empty_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_jobs_results_expire_at"))
    assert schema_diff(engine) != []


def test_upgrade_downgrade_upgrade(empty_url: str, engine: sa.Engine) -> None:
    migrate(empty_url)
    migrate(empty_url)  # idempotent
    downgrade(empty_url)
    assert tables(engine) <= {"alembic_version"}
    migrate(empty_url)
    assert {"jobs", "job_events", "outbox", "dedup", "leases"} <= tables(engine)
    assert schema_diff(engine) == []


def test_two_processes_migrating_at_once(empty_url: str, engine: sa.Engine) -> None:
    code = "import sys; from vatti.store.migrate import migrate; migrate(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, empty_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [head_revision()]
    assert schema_diff(engine) == []


def test_0005_gives_old_jobs_the_default_tenant_and_old_rows_an_unrecorded_actor(
    empty_url: str, engine: sa.Engine
) -> None:
    migrate(empty_url, "0004")
    at = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, client_id, fingerprint, pipeline, spec, state, event_seq,"
                " created_at, updated_at, attempt) VALUES (:id, 'INTP1', :fp, 'pgs', '{}',"
                " 'queued', 1, :at, :at, 0)"
            ),
            {"id": "j-old", "fp": "f" * 64, "at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO job_events (id, job_id, seq, from_state, to_state, event, at,"
                " detail) VALUES ('e-old', 'j-old', 1, NULL, 'requested', 'submit', :at, '{}')"
            ),
            {"at": at},
        )
    migrate(empty_url)
    assert schema_diff(engine) == []
    with engine.begin() as conn:
        tenant = conn.execute(sa.text("SELECT tenant FROM jobs WHERE id = 'j-old'")).scalar()
        actor = conn.execute(sa.text("SELECT actor FROM job_events")).scalar()
        # the client id is unique per tenant now: another tenant may use it
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, client_id, fingerprint, pipeline, spec, state, event_seq,"
                " created_at, updated_at, attempt, tenant) VALUES ('j-new', 'INTP1', :fp,"
                " 'pgs', '{}', 'queued', 1, :at, :at, 0, 'lab-b')"
            ),
            {"fp": "f" * 64, "at": at},
        )
    assert (tenant, actor) == ("default", "unrecorded")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # not twice in one
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, client_id, fingerprint, pipeline, spec, state, event_seq,"
                " created_at, updated_at, attempt, tenant) VALUES ('j-dup', 'INTP1', :fp,"
                " 'pgs', '{}', 'queued', 1, :at, :at, 0, 'lab-b')"
            ),
            {"fp": "f" * 64, "at": at},
        )


def stamp(engine: sa.Engine, revision: str) -> None:
    """Pretend a release with ``revision`` migrated the database."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_a_schema_newer_than_the_code_is_refused_untouched(
    empty_url: str, engine: sa.Engine
) -> None:
    migrate(empty_url)
    stamp(engine, "0099_from_a_newer_release")
    with pytest.raises(SchemaTooNew) as refused:
        migrate(empty_url)
    assert refused.value.exit_code == 78
    assert "'0099_from_a_newer_release'" in refused.value.message
    assert f"its newest is '{head_revision()}'" in refused.value.message
    with engine.connect() as conn:  # nothing ran: neither an upgrade nor a failed attempt
        assert current_revision(conn) == "0099_from_a_newer_release"
    assert schema_diff(engine) == []
    with pytest.raises(SchemaTooNew):
        downgrade(empty_url, "0004")


def test_an_older_schema_is_upgraded_and_reported(empty_url: str, engine: sa.Engine) -> None:
    assert schema_revision(empty_url) is None
    migrate(empty_url, "0004")
    assert schema_revision(empty_url) == "0004"
    refuse_newer(schema_revision(empty_url))  # an older schema is this code's to upgrade
    migrate(empty_url)
    assert schema_revision(empty_url) == head_revision()
