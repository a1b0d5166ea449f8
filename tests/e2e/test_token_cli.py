"""``vatti token create|list|revoke``: tokens a running server takes up and drops, no restart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import (
    JOBS,
    Launcher,
    clean_env,
    example,
    free_port,
    kill_group,
    vatti,
    wait_for,
)

pytestmark = pytest.mark.e2e


def test_a_created_token_works_at_once_and_a_revoked_one_stops_working(
    launcher: Launcher, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = launcher.start(data)
    admin = clean_env(VATTI_DATA_DIR=str(data))
    made = vatti(
        "token", "create", "--tenant", "pgs-portal", "--description", "portal backend",
        "--scopes", "submit,read", "--expires", "30d", cwd=tmp_path, env=admin,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = re.search(r"store it nowhere else\): (\S+)", made.stdout)
    token_id = re.search(r"id: (\S+)", made.stdout)
    assert token is not None
    assert token_id is not None
    portal = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token[1]}"}, timeout=10
    )
    try:
        submitted = portal.post(JOBS, json=example("command-hello.json"))
        assert submitted.status_code == 201, submitted.text
        job_url = f"{JOBS}/{submitted.json()['id']}"
        # the portal's job belongs to its tenant: the default tenant's token does not see it
        assert server.http.get(job_url).status_code == 404
        events = portal.get(f"{job_url}/events").json()["events"]
        assert {e["actor"] for e in events[:2]} == {f"token:{token_id[1]}"}
        listed = vatti("token", "list", cwd=tmp_path, env=admin)
        assert listed.returncode == 0, listed.stderr
        assert token_id[1] in listed.stdout
        assert "pgs-portal" in listed.stdout
        assert "valid" in listed.stdout
        assert token[1] not in listed.stdout

        revoked = vatti("token", "revoke", token_id[1], cwd=tmp_path, env=admin)
        assert revoked.returncode == 0, revoked.stderr
        wait_for(lambda: portal.get(JOBS).status_code == 401, 10, "the revocation to hold")
        assert "revoked" in vatti("token", "list", cwd=tmp_path, env=admin).stdout
        assert server.http.get(JOBS).status_code == 200  # the configured tokens still work
    finally:
        portal.close()
    unknown = vatti("token", "revoke", "no-such-token", cwd=tmp_path, env=admin)
    assert unknown.returncode != 0
    assert "no token with id" in unknown.stderr
    assert token[1] not in server.log_path.read_text(errors="replace")


def test_the_configured_token_helper_still_prints_an_entry(tmp_path: Path) -> None:
    made = vatti("token", "--scopes", "read", cwd=tmp_path, env=clean_env())
    assert made.returncode == 0, made.stderr
    assert re.search(r"VATTI_API_TOKENS entry: [0-9a-f]{64}:read", made.stdout)
    narrowed = vatti(
        "token", "--tenant", "lab-a", "--scopes", "read,submit:command:hello",
        cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert narrowed.returncode == 0, narrowed.stderr
    assert re.search(
        r"VATTI_API_TOKENS entry: lab-a@[0-9a-f]{64}:read,submit:command:hello\n", narrowed.stdout
    )


def test_unknown_scopes_are_refused_when_a_token_is_made(tmp_path: Path) -> None:
    admin = clean_env(VATTI_DATA_DIR=str(tmp_path / "data"))
    for args, said in (
        (("token", "--scopes", "read:pgs"), "only the submit scope can be narrowed"),
        (
            ("token", "create", "--tenant", "t", "--description", "d", "--scopes", "read,root"),
            "unknown scope 'root'",
        ),
    ):
        made = vatti(*args, cwd=tmp_path, env=admin)
        assert made.returncode == 2, made.stderr  # a usage error
        assert said in made.stderr
        assert "token (give it" not in made.stdout


def test_a_server_without_any_token_says_so(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(VATTI_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vatti", "serve", "--no-engine", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "api.no_tokens" in log.read_text(), 30, "the warning")
        wait_for(lambda: _ready(port), 30, "the server")
        assert httpx.get(f"http://127.0.0.1:{port}{JOBS}").status_code == 401
    finally:
        kill_group(proc)
        proc.wait(timeout=15)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
