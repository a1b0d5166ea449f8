"""Run a command and measure its wall time and peak memory (the whole process tree).

Peak memory is the larger of (1) the sum of the resident set sizes of the process and all its
descendants, polled every 20 ms with psutil, and (2) the largest ``VmHWM`` (a process's own peak
RSS since its exec, from ``/proc/PID/status``) seen in those polls, which catches a single
process's peak between two polls. (Not ``wait4``'s ``ru_maxrss``: on Linux a child inherits its
parent's high-water mark through fork/exec, so it would report at least this script's RSS.)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_S = 0.02
#: The environment of measured commands that are given none (None: this process's).
BASE_ENV: Mapping[str, str] | None = None
METHOD = "max(tree RSS sum, largest VmHWM) polled every 20 ms"


@dataclass(frozen=True)
class Run:
    name: str
    wall_s: float
    peak_mb: float
    log: Path | None = None

    @staticmethod
    def chain(name: str, runs: Sequence[Run]) -> Run:
        """Steps run one after the other: wall times add up, the peak is the largest."""
        return Run(name, sum(r.wall_s for r in runs), max((r.peak_mb for r in runs), default=0))


class CommandFailed(RuntimeError):
    pass


def _hwm_bytes(pid: int) -> int:
    """The process's peak RSS since its exec (``VmHWM``), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_memory(pid: int) -> tuple[int, int]:
    """Sum of RSS over the process tree, and the largest ``VmHWM`` in it (bytes)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    total = hwm = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
        hwm = max(hwm, _hwm_bytes(proc.pid))
    return total, hwm


def measure(
    name: str,
    argv: Sequence[str | Path],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Run:
    """Run ``argv`` (output to ``log``) and return its wall time and peak tree RSS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [str(a) for a in argv]
    with open(log, "wb") as out:
        out.write(f"$ {shlex.join(command)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else BASE_ENV,
        )
        peak = 0
        while True:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, *_tree_memory(proc.pid))
            time.sleep(POLL_S)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = log.read_text(errors="replace")[-2000:]
        raise CommandFailed(f"{name} exited with {proc.returncode}; log {log}:\n{tail}")
    return Run(name, wall, peak / 2**20, log)


def stop(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM ``proc`` and wait for it; SIGKILL it if it is still there after ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
