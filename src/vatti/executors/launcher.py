"""The local executor's launcher: a single-threaded process that only imports, then forks jobs.

Started by :class:`vatti.executors.launcher_client.LauncherClient` with a scrubbed environment
(``python -m vatti.executors.launcher FD MODULE...``): it imports the modules named (the job
runtime and what a job needs), then serves requests read from the socket ``FD`` (one JSON
object a line). It never runs a job's code itself, so the state it forks from is only imports
(a process forked after, say, a polars query has run may hang).

For each ``start`` request it forks a *wrapper*: the leader of a new session and process group,
which forks the job (its stdout and stderr appended to ``RUN_DIR/job.log``, ``RLIMIT_AS`` set to
the memory limit, the launch's environment, the secrets written to an inherited pipe whose fd
is in ``VATTI_SECRETS_FD``), waits for it and writes ``RUN_DIR/exit.json`` atomically. (A
request may name another wrapper, a preloaded ``module:function`` in :data:`WRAPPER_FIELD`: the
Celery worker's, which reports to the state store instead.) The
launcher reaps the wrappers and reports each exit on the socket as it happens. When the socket
closes (the engine is gone) the launcher exits; the wrappers go on, and a restarted engine finds
them through their handles.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EXIT_FILE = "exit.json"
LOG_FILE = "job.log"
SECRETS_FD_VAR = "VATTI_SECRETS_FD"
#: the secrets are written to the pipe before the job reads them: they must fit its buffer
MAX_SECRETS_BYTES = 60_000
#: exit status of a job whose entry point could not be run at all
CANNOT_START = 127
#: exit status of a job whose entry point raised
CRASHED = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: the request field naming another wrapper than :func:`wrap_job` (``module:function``)
WRAPPER_FIELD = "wrapper"


def write_status(run_dir: Path, code: int, reason: str | None, limit: str | None = None) -> None:
    """Write ``exit.json`` atomically (temporary file, fsync, rename)."""
    tmp = run_dir / f".{EXIT_FILE}.{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"code": code, "reason": reason, "limit": limit}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, run_dir / EXIT_FILE)


def status_of(exit_code: int) -> tuple[int, str | None]:
    """Shell convention: a death by signal N (``waitstatus_to_exitcode`` -N) is 128 + N.

    >>> status_of(3), status_of(-9)
    ((3, None), (137, 'killed by signal SIGKILL'))
    """
    if exit_code >= 0:
        return exit_code, None
    signum = -exit_code
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    return 128 + signum, f"killed by signal {name}"


def resolve_entry(entry: str) -> Callable[[str], int]:
    """``module:function`` → the function (called with the job id, returns the exit status)."""
    module_name, _, attr = entry.partition(":")
    fn: Callable[[str], int] = getattr(importlib.import_module(module_name), attr)
    return fn


def run_job(request: dict[str, Any], log_fd: int, secrets_fd: int) -> int:
    """In the job's process: set it up as the request says, then run the entry point."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    memory_mb = int(request.get("memory_mb") or 0)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})
    os.environ[SECRETS_FD_VAR] = str(secrets_fd)
    try:
        fn = resolve_entry(str(request["entry"]))
    except Exception:
        traceback.print_exc()
        return CANNOT_START
    try:
        code = fn(str(request["job_id"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else CRASHED
    except BaseException:
        traceback.print_exc()
        code = CRASHED
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return int(code)


def fork_in_group(request: dict[str, Any], log_fd: int, secrets: bytes) -> int:
    """Fork the job as :func:`run_job` in a process group of its own (its wrapper signals the
    group, not itself): its output on ``log_fd`` (closed here), its secrets written to its pipe.
    Returns its pid, which is its group's id."""
    read_end, write_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        code = CRASHED
        try:
            os.setpgid(0, 0)
            os.close(write_end)
            code = run_job(request, log_fd, read_end)
        finally:
            os._exit(code)
    with contextlib.suppress(OSError):  # the child may have done it, or exited already
        os.setpgid(pid, pid)
    os.close(read_end)
    os.close(log_fd)
    with contextlib.suppress(OSError):  # the job may end without reading them
        os.write(write_end, secrets)
    os.close(write_end)
    return pid


def wrap_job(request: dict[str, Any]) -> int:
    """In the wrapper (a new session): fork the job, hand it its secrets, record its exit."""
    os.setsid()
    for signum in STOP_SIGNALS:  # the whole group gets SIGTERM: the job decides how to stop
        signal.signal(signum, lambda *_: None)
    run_dir = Path(str(request["run_dir"]))
    log_fd = os.open(run_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    secrets = json.dumps(dict(request.get("secrets") or {})).encode()
    read_end, write_end = os.pipe()
    job = os.fork()
    if job == 0:
        os.close(write_end)
        os._exit(run_job(request, log_fd, read_end))
    os.close(read_end)
    os.close(log_fd)
    with contextlib.suppress(OSError):  # the job may end without reading them
        os.write(write_end, secrets)
    os.close(write_end)
    _, status = os.waitpid(job, 0)
    code, reason = status_of(os.waitstatus_to_exitcode(status))
    write_status(run_dir, code, reason)
    return code


def wrapper_of(request: dict[str, Any]) -> Callable[[dict[str, Any]], int]:
    """The function the wrapper of ``request`` runs: :func:`wrap_job` unless it names another."""
    name = request.get(WRAPPER_FIELD)
    if not name:
        return wrap_job
    module_name, _, attr = str(name).partition(":")
    fn: Callable[[dict[str, Any]], int] = getattr(importlib.import_module(module_name), attr)
    return fn


def fork_wrapper(request: dict[str, Any], close: Iterable[int]) -> int:
    """Fork the wrapper of one job; its pid (= its process group and session id)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid:
        return pid
    code = CRASHED
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        code = wrapper_of(request)(request)
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        os._exit(code)


class Launcher:
    """The serving loop: requests in, job starts and exits out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, str] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def handle(self, request: dict[str, Any]) -> None:
        if request.get("op") != "start":
            self.send({"op": "failed", "error": f"unknown request {request.get('op')!r}"})
            return
        selector_fd: int = getattr(self.selector, "fileno", lambda: -1)()
        close = [
            fd for fd in (self.sock.fileno(), self.wake_r, self.wake_w, selector_fd) if fd >= 0
        ]
        try:
            pid = fork_wrapper(request, close)
        except OSError as exc:
            self.send({"op": "failed", "error": f"cannot fork: {exc}"})
            return
        self.children[pid] = str(request["job_id"])
        # not reaped before the reply below, so its start time is readable even if it ended
        import psutil  # here: the SLURM job's wrapper imports this module without needing it

        create_time = psutil.Process(pid).create_time()
        self.send(
            {"op": "started", "job_id": request["job_id"], "pid": pid, "create_time": create_time}
        )

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job_id = self.children.pop(pid, None)
            if job_id is not None:
                code, _ = status_of(os.waitstatus_to_exitcode(status))
                self.send({"op": "exited", "job_id": job_id, "pid": pid, "code": code})

    def serve(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        buffer = b""
        try:
            while True:
                for key, _ in self.selector.select():
                    if key.fileobj is self.sock:
                        data = self.sock.recv(1 << 16)
                        if not data:
                            return 0  # the engine is gone; the jobs go on
                        buffer += data
                        while b"\n" in buffer:
                            line, buffer = buffer.split(b"\n", 1)
                            self.handle(json.loads(line))
                    else:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self.wake_r, 512):
                                pass
                self.reap()
        except (BrokenPipeError, ConnectionResetError):
            return 0


def main(args: list[str]) -> int:
    if not args:
        print("usage: python -m vatti.executors.launcher FD [MODULE...]", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(args[0]))
    os.set_inheritable(sock.fileno(), False)
    for module in args[1:]:
        importlib.import_module(module)
    return Launcher(sock).serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
