"""Spawn ``vatti serve`` / ``vatti engine`` processes that share one environment."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import clean_env, free_port, kill_group, make_token, wait_for

START_TIMEOUT_S = 30.0


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM (after SIGCONT, should it be frozen), then wait; its exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        kill_group(self.proc)
        return self.proc.returncode


class Cluster:
    """The processes of one test: they share ``env`` (database, data dir)."""

    def __init__(self, tmp: Path, **env: str) -> None:
        self.tmp = tmp
        self.token, token_hash = make_token()
        self.env = clean_env(
            VATTI_DATA_DIR=str(tmp / "data"),
            VATTI_API_TOKENS=f"{token_hash}:submit,read",
            VATTI_TERMINATE_GRACE="2",
            VATTI_LOG_LEVEL="INFO",
            **env,
        )
        self.procs: list[Proc] = []
        self.url = ""

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        log_path = self.tmp / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vatti", *args],
                cwd=self.tmp,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Proc(name, proc, log_path)
        self.procs.append(started)
        return started

    def api(self, name: str = "api", port: int | None = None) -> Proc:
        """An API replica (on ``port``, or a free one); :attr:`url` is the last one's."""
        port = port or free_port()
        self.url = url = f"http://127.0.0.1:{port}"
        api = self.spawn(name, "serve", "--no-engine", "--host", "127.0.0.1", "--port", str(port))

        def ready() -> bool:
            if api.proc.poll() is not None:
                pytest.fail(f"vatti serve --no-engine exited\n{api.log()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200
            return False

        wait_for(ready, START_TIMEOUT_S, f"the API replica {name} to be ready")
        return api

    def engine(self, name: str) -> Proc:
        engine = self.spawn(name, "engine")

        def started() -> bool:
            if engine.proc.poll() is not None:
                pytest.fail(f"vatti engine exited with {engine.proc.returncode}\n{engine.log()}")
            return "engine.started" in engine.log()

        wait_for(started, START_TIMEOUT_S, f"{name} to start")
        return engine

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()
