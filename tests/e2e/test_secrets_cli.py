"""``vatti secrets key`` and ``vatti secrets reseal``: rotating the service key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.e2e.conftest import Launcher, clean_env, example, vatti

from vatti.secretbox import PREFIX, SecretBox, check_key

pytestmark = pytest.mark.e2e

HOOK = "http://127.0.0.1:9/own/tok-5e1f?token=tok-5e1f"  # nobody listens: it stays queued


def sealed_urls(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [
            r[0] for r in conn.execute("SELECT webhook_url FROM jobs WHERE webhook_url IS NOT NULL")
        ]


def test_rotating_the_service_key(launcher: Launcher, tmp_path: Path) -> None:
    made = [vatti("secrets", "key", cwd=tmp_path, env=clean_env()) for _ in range(2)]
    old, new = (m.stdout.strip() for m in made)
    for key in (old, new):
        check_key(key)
    data = tmp_path / "data"
    server = launcher.start(data, {"VATTI_SECRET_KEY": old})
    server.submit({**example("command-hello.json"), "webhook_url": HOOK})
    server.stop()
    (before,) = sealed_urls(data / "vatti.db")
    assert before.startswith(PREFIX)
    assert SecretBox([old]).open(before) == HOOK

    env = clean_env(VATTI_DATA_DIR=str(data), VATTI_SECRET_KEY=f"{new},{old}")
    resealed = vatti("secrets", "reseal", cwd=tmp_path, env=env)
    assert resealed.returncode == 0, resealed.stderr
    assert "resealed 1 secret value" in resealed.stdout
    (after,) = sealed_urls(data / "vatti.db")
    assert SecretBox([new]).open(after) == HOOK  # the old key can go
    assert old not in resealed.stdout + resealed.stderr
    assert new not in resealed.stdout + resealed.stderr
