"""The process every local job runs under: it records the job's exit status for any later reader.

Run as a script (``python -I wrapper.py RUN_DIR MEMORY_MB -- ARGV...``) by
:class:`vatti.executors.local.LocalExecutor`, as the leader of the job's own process group. It
starts ``ARGV`` (with ``RLIMIT_AS`` set to ``MEMORY_MB`` MiB unless that is 0), sends its output
to ``RUN_DIR/job.log``, waits for it, and writes ``RUN_DIR/exit.json`` atomically, so the exit
status survives a restart of the server that launched the job (which then is no longer its
parent). Standard library only: it must not import vatti.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_FILE = "exit.json"
LOG_FILE = "job.log"
CANNOT_START = 127


def write_status(run_dir: Path, code: int, reason: str | None) -> None:
    """Write ``exit.json`` atomically (temporary file, fsync, rename)."""
    tmp = run_dir / f".{EXIT_FILE}.{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"code": code, "reason": reason}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, run_dir / EXIT_FILE)


def memory_limiter(memory_mb: int) -> Callable[[], None] | None:
    if memory_mb <= 0:
        return None
    limit = memory_mb * 1024 * 1024

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def status_of(returncode: int) -> tuple[int, str | None]:
    """Shell convention: a death by signal N is status 128 + N."""
    if returncode >= 0:
        return returncode, None
    signum = -returncode
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    return 128 + signum, f"killed by signal {name}"


def main(args: list[str]) -> int:
    if len(args) < 4 or args[2] != "--":
        print("usage: wrapper.py RUN_DIR MEMORY_MB -- ARGV...", file=sys.stderr)
        return 2
    run_dir, memory_mb, command = Path(args[0]), int(args[1]), args[3:]
    # The whole group gets SIGTERM on terminate: the job decides how to stop; we keep waiting
    # so that its status is recorded.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: None)
    limiter = memory_limiter(memory_mb)
    with (run_dir / LOG_FILE).open("ab") as log:
        try:
            # single-threaded here, so preexec_fn is safe
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=limiter,
                restore_signals=True,
            )
        except OSError as exc:
            write_status(run_dir, CANNOT_START, f"cannot start {command[0]!r}: {exc}")
            return CANNOT_START
        returncode = child.wait()
    code, reason = status_of(returncode)
    write_status(run_dir, code, reason)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
