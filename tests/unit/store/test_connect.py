from __future__ import annotations

from pathlib import Path

import pytest

from vatti.errors import ConfigError
from vatti.store.connect import create_db_engine, normalise_url, sqlite_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert normalise_url(url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "nonsense"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        normalise_url(url)


def test_memory_sqlite_is_refused() -> None:
    with pytest.raises(ConfigError, match="memory"):
        create_db_engine("sqlite://")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data")
    assert (tmp_path / "data").is_dir()
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/v.db", "postgresql://u@127.0.0.1:1/db"])
def test_engines_never_render_statement_parameters(url: str, tmp_path: Path) -> None:
    # job specs are statement parameters; a driver error quoting them would reach the logs
    engine = create_db_engine(url.format(tmp=tmp_path))
    assert engine.hide_parameters
