"""``vatti db upgrade|check`` (the Helm chart's migration hook) and the engine's refusal of a
schema a newer release migrated, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import clean_env, vatti

from vatti.assembly import database_url
from vatti.config import Settings
from vatti.secretbox import new_key
from vatti.store.connect import create_db_engine
from vatti.store.migrate import head_revision

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings of a database no release has migrated yet: SQLite, and a fresh PostgreSQL."""
    if request.param == "postgres":
        return {
            "VATTI_DATABASE_URL": request.getfixturevalue("empty_postgres_url"),
            "VATTI_SECRET_KEY": new_key(),
        }
    return {}


def test_db_upgrade_then_engines_refuse_a_newer_schema(
    tmp_path: Path, empty_db_env: dict[str, str]
) -> None:
    overlay = {"VATTI_DATA_DIR": str(tmp_path / "data"), **empty_db_env}
    env = clean_env(**overlay)
    pending = vatti("db", "check", cwd=tmp_path, env=env)
    assert pending.returncode == 1
    assert "run `vatti db upgrade`" in pending.stderr

    upgraded = vatti("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"revision {head_revision()}" in upgraded.stdout
    assert vatti("db", "check", cwd=tmp_path, env=env).returncode == 0

    settings = Settings.for_component("admin", overlay=overlay)
    engine = create_db_engine(database_url(settings), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_next_release'"))
    engine.dispose()

    for argv in (("engine",), ("db", "check"), ("db", "upgrade")):
        refused = vatti(*argv, cwd=tmp_path, env=env)
        assert refused.returncode == 78, (argv, refused.stderr)
        assert "schema is at revision '0099_next_release'" in refused.stderr
        assert "a newer vatti migrated it" in refused.stderr
    served = vatti("serve", "--no-engine", "--port", "0", cwd=tmp_path, env=env)
    assert served.returncode == 78
    assert "'0099_next_release'" in served.stderr
