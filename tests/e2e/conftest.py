"""Spawn the real ``vatti`` CLI and server as subprocesses.

- ``served``: ``vatti serve`` on SQLite in a tmp data dir, shared by a test module (jobs of
  earlier tests stay in its database; tests compare counts, not absolute numbers).
- ``served_any_db``: a fresh server per test, on SQLite and on PostgreSQL (``db_env``).
- ``launcher``: start (and restart) servers on a data dir of the test's choosing.

Every process runs in its own session and is killed with its group at teardown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from vatti.secretbox import new_key
from vatti.testing.services import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
JOBS = "/api/v1/jobs"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
START_TIMEOUT_S = 30.0
JOB_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
_INHERITED = ("PATH", "HOME", "VIRTUAL_ENV", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER")


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: nothing of the developer's VATTI_* settings leaks in."""
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"  # rich wraps at the terminal width; keep messages on one line
    # tests submit in bursts; the per-token limit has its own tests (integration/api/test_tenants)
    env["VATTI_SUBMIT_RATE"] = "0"
    env.update(extra)
    return env


def make_token() -> tuple[str, str]:
    """A bearer token and its SHA-256 hex digest (what VATTI_API_TOKENS holds)."""
    token = secrets.token_urlsafe(24)
    return token, hashlib.sha256(token.encode()).hexdigest()


def vatti(
    *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion; its own session, killed with its group on timeout."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vatti", *args],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        stdout, stderr = proc.communicate()
        pytest.fail(f"vatti {' '.join(args)} timed out\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def kill_group(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process belongs to process group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Server:
    """A running ``vatti serve``: its URL, data dir and tokens (submit+read, read-only)."""

    url: str
    data_dir: Path
    token: str
    read_token: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        http = httpx.Client(base_url=self.url, headers=headers, timeout=10.0)
        self.clients.append(http)
        return http

    @property
    def http(self) -> httpx.Client:
        if not self.clients:
            self.client()
        return self.clients[0]

    def submit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Submit ``body`` made unique (identical requests are deduplicated for minutes)."""
        resp = self.http.post(JOBS, json=unique(body))
        assert resp.status_code == 201, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"{JOBS}/{job_id}")
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def wait_state(
        self, job_id: str, states: frozenset[str] = TERMINAL, timeout: float = JOB_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll the job until its state is one of ``states``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} still {job['state']} after {timeout}s\n{self.log()}")
            time.sleep(0.05)

    def job_count(self) -> int:
        count, cursor = 0, None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            body = self.http.get(JOBS, params=params).json()
            count += len(body["jobs"])
            cursor = body.get("next_cursor")
            if not cursor:
                return count

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def close_clients(self) -> None:
        for http in self.clients:
            http.close()
        self.clients.clear()

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL the group if it does not stop in time."""
        self.close_clients()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
                pytest.fail(f"vatti serve ignored SIGTERM\n{self.log()}")
        kill_group(self.proc)  # anything left in its session
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the server process only (its jobs run in sessions of their own)."""
        self.close_clients()
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT_S)


def start_server(
    data_dir: Path,
    *,
    token_hash: str,
    read_hash: str,
    token: str,
    read_token: str,
    extra_env: Mapping[str, str] | None = None,
) -> Server:
    """Start ``vatti serve`` and wait until ``/readyz`` answers 200."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    defaults = {
        "VATTI_DATA_DIR": str(data_dir),
        "VATTI_API_TOKENS": f"{token_hash}:submit,read;{read_hash}:read",
        "VATTI_POLL_INTERVAL": "0.1",
        "VATTI_TERMINATE_GRACE": "2",
        "VATTI_LOG_LEVEL": "INFO",
        # the tests' jobs are scripts of their own (a server refusing them: test_cli.py)
        "VATTI_ALLOW_RAW_ARGV": "1",
    }
    env = clean_env(**{**defaults, **(extra_env or {})})
    log_path = data_dir.parent / f"serve-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vatti", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=data_dir.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", data_dir, token, read_token, env, proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"vatti serve exited with {proc.returncode}\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/readyz", timeout=1.0).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"vatti serve not ready after {START_TIMEOUT_S}s\n{server.log()}")
        time.sleep(0.05)


class Launcher:
    """Starts servers with one pair of tokens; stops every one of them at teardown."""

    def __init__(self) -> None:
        self.token, self.token_hash = make_token()
        self.read_token, self.read_hash = make_token()
        self.servers: list[Server] = []

    def start(self, data_dir: Path, extra_env: Mapping[str, str] | None = None) -> Server:
        server = start_server(
            data_dir,
            token_hash=self.token_hash,
            read_hash=self.read_hash,
            token=self.token,
            read_token=self.read_token,
            extra_env=extra_env,
        )
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@contextlib.contextmanager
def _launcher() -> Iterator[Launcher]:
    launcher = Launcher()
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    with _launcher() as launcher:
        yield launcher


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``vatti serve`` on SQLite, shared by the tests of one module."""
    with _launcher() as launcher:
        yield launcher.start(tmp_path_factory.mktemp("served") / "data")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Server settings for each database: SQLite (the default) and a fresh PostgreSQL."""
    if request.param == "postgres":
        return {
            "VATTI_DATABASE_URL": request.getfixturevalue("postgres_database_url"),
            "VATTI_SECRET_KEY": new_key(),
        }
    return {}


@pytest.fixture
def served_any_db(launcher: Launcher, db_env: dict[str, str], tmp_path: Path) -> Server:
    """A fresh ``vatti serve`` per test, on SQLite and on PostgreSQL."""
    return launcher.start(tmp_path / "data", db_env)


def unique(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with a label of its own, so the server does not deduplicate it."""
    labels = {**body.get("labels", {}), "e2e-run": uuid.uuid4().hex}
    return {**body, "labels": labels}


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return body


def command(*argv: str, **extra: Any) -> dict[str, Any]:
    """A ``command`` job request of a raw argv (the test servers allow them)."""
    params: dict[str, Any] = {"argv": list(argv)}
    params.update(extra.pop("params", {}))
    return {"pipeline": "command", "params": params, **extra}
