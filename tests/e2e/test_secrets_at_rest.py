"""No secret reaches the database or the logs in clear text, and nothing is pickled."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.e2e.conftest import JOBS, Launcher, example, free_port, wait_for
from tests.integration.notify.conftest import Receiver

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "whsec-e2e-7f3a9c1d5b"
HOOK_TOKEN = "hooktok-e2e-41c9d2"  # a token in the service webhook's URL, as some receivers want


def test_tokens_and_webhook_secret_are_stored_nowhere(launcher: Launcher, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # nobody listens: messages stay in the outbox
    hook = f"http://127.0.0.1:{free_port()}/hook/{HOOK_TOKEN}?token={HOOK_TOKEN}"
    server = launcher.start(
        data, {"VATTI_WEBHOOK_URL": hook, "VATTI_WEBHOOK_SECRET": WEBHOOK_SECRET}
    )
    job = server.submit(example("command-hello.json"))
    assert server.wait_state(job["id"])["state"] == "succeeded"
    refused = server.http.post(
        JOBS, json={**example("command-hello.json"), "webhook_url": "http://u:pw@example.org/h"}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "webhook_url"
    server.stop()
    log = server.log_path.read_text(errors="replace")

    secrets = [WEBHOOK_SECRET, HOOK_TOKEN, launcher.token, launcher.read_token]
    with sqlite3.connect(data / "vatti.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"jobs", "job_events", "outbox"} <= set(tables)
        dump = "\n".join(db.iterdump())
        outbox = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert outbox > 0  # the notifications are there, waiting for their endpoint
    for secret in secrets:
        assert secret not in dump
        assert secret not in log
    assert "pickle" not in dump.lower()
    assert b"\x80\x04\x95" not in (data / "vatti.db").read_bytes()  # no pickle protocol 4 frames


def test_delivered_webhooks_leave_no_url_token_in_logs_or_database(
    launcher: Launcher, tmp_path: Path
) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    try:
        hook = f"http://127.0.0.1:{receiver.port}/hook/{HOOK_TOKEN}?token={HOOK_TOKEN}"
        data = tmp_path / "data"
        server = launcher.start(
            data,
            {
                "VATTI_WEBHOOK_URL": hook,
                "VATTI_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "VATTI_LOG_LEVEL": "DEBUG",
            },
        )
        job = server.submit(example("command-hello.json"))
        assert server.wait_state(job["id"])["state"] == "succeeded"
        n_events = len(server.http.get(f"{JOBS}/{job['id']}/events").json()["events"])
        wait_for(lambda: len(receiver.bodies()) == n_events, 30, "every event at the webhook")
        server.stop()
    finally:
        receiver.stop()

    # delivered to the URL as configured, token and all
    assert {r.path for r in receiver.received} == {f"/hook/{HOOK_TOKEN}?token={HOOK_TOKEN}"}
    log = server.log_path.read_text(errors="replace")
    assert "notify.delivered" in log
    with sqlite3.connect(data / "vatti.db") as db:
        dump = "\n".join(db.iterdump())
    for secret in (HOOK_TOKEN, WEBHOOK_SECRET):
        assert secret not in log
        assert secret not in dump


def test_a_jobs_own_webhook_url_is_sealed_at_rest_and_still_delivered(
    launcher: Launcher, tmp_path: Path
) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    try:
        hook = f"http://127.0.0.1:{receiver.port}/own/{HOOK_TOKEN}?token={HOOK_TOKEN}"
        data = tmp_path / "data"
        server = launcher.start(data, {"VATTI_WEBHOOK_SECRET": WEBHOOK_SECRET})
        job = server.submit({**example("command-hello.json"), "webhook_url": hook})
        assert server.wait_state(job["id"])["state"] == "succeeded"
        shown = server.http.get(f"{JOBS}/{job['id']}").json()["webhook_url"]
        n_events = len(server.http.get(f"{JOBS}/{job['id']}/events").json()["events"])
        wait_for(lambda: len(receiver.bodies()) == n_events, 30, "every event at the job's URL")
        server.stop()
    finally:
        receiver.stop()

    assert {r.path for r in receiver.received} == {f"/own/{HOOK_TOKEN}?token={HOOK_TOKEN}"}
    assert HOOK_TOKEN not in shown  # the API shows the origin only
    with sqlite3.connect(data / "vatti.db") as db:
        dump = "\n".join(db.iterdump())
    assert "sealed:v1:" in dump
    assert HOOK_TOKEN not in dump
    assert f"127.0.0.1:{receiver.port}" not in dump
    assert HOOK_TOKEN not in server.log_path.read_text(errors="replace")
