"""A job entry point for executor tests: the real job runtime, or a script the test chose.

Executors under test run :func:`main` instead of the runtime's entry point. Without
``VATTI_TEST_JOB`` in its environment it runs the real runtime (:func:`job_run_main`); with it,
the JSON object there says what to do, in this order (each key optional):

- ``"print"``: a line to write to stdout (the job's log);
- ``"secrets"``: read the launch's secrets from ``VATTI_SECRETS_FD``; print the SHA-256 of each
  value (never the value) as ``secret NAME sha256=...``;
- ``"pid"``: print ``pid=N`` (the job process, for ``/proc`` checks);
- ``"scratch"``: create a file in the job's scratch dir (``VATTI_SCRATCH_DIR``/job id) and print
  ``scratch=PATH``, leaving it behind for the executor's cleanup;
- ``"allocate_mb"``: allocate and touch that many MiB;
- ``"ignore_term"``: ignore SIGTERM from now on;
- ``"child"``: start ``sleep 1000`` in the job's group and print ``child=PID``;
- ``"wait_for"``: wait until that path exists, then print ``go``;
- ``"sleep"``: sleep that many seconds;
- ``"exit"``: the exit status (default 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TEST_JOB_VAR = "VATTI_TEST_JOB"
SECRETS_FD_VAR = "VATTI_SECRETS_FD"
ENTRY = "vatti.testing.job_scripts:main"


def read_secrets() -> dict[str, str]:
    fd = int(os.environ[SECRETS_FD_VAR])
    with os.fdopen(fd, "rb") as pipe:
        body = json.loads(pipe.read() or b"{}")
    return {str(k): str(v) for k, v in body.items()}


def say(line: str) -> None:
    print(line, flush=True)


def scripted(job_id: str, script: dict[str, Any]) -> int:
    if "print" in script:
        say(str(script["print"]))
    if script.get("secrets"):
        for name, value in sorted(read_secrets().items()):
            say(f"secret {name} sha256={hashlib.sha256(value.encode()).hexdigest()}")
    if script.get("pid"):
        say(f"pid={os.getpid()}")
    if script.get("scratch"):
        scratch = Path(os.environ["VATTI_SCRATCH_DIR"]) / job_id
        scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        (scratch / "left-behind.txt").write_text("clear text\n")
        say(f"scratch={scratch}")
    if "allocate_mb" in script:
        block = bytearray(int(script["allocate_mb"]) << 20)
        block[::4096] = b"x" * len(block[::4096])
        say(f"allocated {len(block) >> 20} MiB")
    if script.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if script.get("child"):
        child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
        say(f"child={child.pid}")
    if "wait_for" in script:
        path = Path(str(script["wait_for"]))
        while not path.exists():
            time.sleep(0.01)
        say("go")
    if "sleep" in script:
        time.sleep(float(script["sleep"]))
    return int(script.get("exit", 0))


def main(job_id: str) -> int:
    """The entry point executors under test run for each job."""
    raw = os.environ.get(TEST_JOB_VAR)
    if raw is None:
        from vatti.runtime.main import job_run_main

        return job_run_main(job_id)
    return scripted(job_id, json.loads(raw))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
