"""Process and process-group probes for the local executor (Linux/POSIX, through psutil)."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

from vatti.executors.local_handle import LocalHandle

#: ``create_time`` is derived from clock ticks since boot: equal within this for one process.
CREATE_TIME_TOLERANCE_S = 0.05
WAIT_STEP_S = 0.02


def same_process(handle: LocalHandle) -> psutil.Process | None:
    """The handle's wrapper process if it still exists (zombies included), else None."""
    return started_process(handle.pid, handle.create_time)


def started_process(pid: int, create_time: float) -> psutil.Process | None:
    """Process ``pid`` if it is the one started at ``create_time`` (zombies included)."""
    try:
        proc = psutil.Process(pid)
        started = proc.create_time()
    except psutil.NoSuchProcess:
        return None
    if abs(started - create_time) > CREATE_TIME_TOLERANCE_S:
        return None  # the pid was reused by another process
    return proc


def still_running(pid: int, create_time: float) -> bool:
    """Whether the process started at ``create_time`` exists and has not exited."""
    proc = started_process(pid, create_time)
    try:
        return proc is not None and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def reap(handle: LocalHandle) -> None:
    """Collect the wrapper's exit if it is our child and has exited (no zombie left behind)."""
    proc = same_process(handle)
    if proc is None:
        return
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return
        os.waitpid(handle.pid, os.WNOHANG)
    except (psutil.NoSuchProcess, ChildProcessError):
        pass  # gone already, or not our child (its parent reaps it)


def wrapper_alive(handle: LocalHandle) -> bool:
    reap(handle)
    proc = same_process(handle)
    if proc is None:
        return False
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_alive(handle: LocalHandle) -> bool:
    """Whether any process of the job's group is left (the wrapper or any descendant).

    Linux never hands out a pid still in use as a process group id, so a live group named
    ``pgid`` whose leader pid is not taken by another process is the job's.
    """
    reap(handle)
    if same_process(handle) is None and psutil.pid_exists(handle.pid):
        return False  # pid reused by an unrelated process: our group is long gone
    try:
        os.killpg(handle.pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(live_members(handle.pgid))  # zombies do not count: their parent may never reap


def live_members(pgid: int) -> list[psutil.Process]:
    """The non-zombie processes of group ``pgid``."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def signal_group(handle: LocalHandle, signum: signal.Signals) -> None:
    if not group_alive(handle):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(handle.pgid, signum)


def wait_group_gone(handle: LocalHandle, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the group to be gone; True when it is."""
    deadline = time.monotonic() + timeout_s
    while group_alive(handle):
        if time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_STEP_S)
    return True
