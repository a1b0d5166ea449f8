"""The engine's side of the launcher (:mod:`vatti.executors.launcher`): start it, ask, listen.

The launcher is started on first use with ``posix_spawn`` (never a fork of the engine) and a
scrubbed environment, and talks over a socket pair. A reader thread takes its replies and its
reports of job exits, which it passes to the ``on_exit`` callbacks as they arrive. When the
launcher dies, the next request starts a new one; jobs it had started are unaffected (their
wrappers record their exits), and the executor finds them through their handles.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vatti.executors.errors import SubmitFailed

REPLY_TIMEOUT_S = 30.0
_GONE: dict[str, Any] = {"op": "gone"}


class LauncherClient:
    """One launcher process, started lazily, restarted when it died."""

    def __init__(self, env: Mapping[str, str], preload: Sequence[str]) -> None:
        self.env = dict(env)
        self.preload = tuple(preload)
        self._lock = threading.Lock()  # one request at a time; guards the fields below
        self._sock: socket.socket | None = None
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._callbacks: list[Callable[[str], None]] = []
        self.pid: int | None = None

    def on_exit(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def start_job(self, request: Mapping[str, Any]) -> tuple[int, float]:
        """Ask the launcher to start a job; the wrapper's pid and start time (psutil's).

        Raises :class:`SubmitFailed`."""
        body = json.dumps({"op": "start", **request}).encode() + b"\n"
        with self._lock:
            for attempt in (1, 2):
                sock = self._ensure_started()
                try:
                    sock.sendall(body)
                    reply = self._replies.get(timeout=REPLY_TIMEOUT_S)
                except (OSError, queue.Empty) as exc:
                    self._forget(sock)
                    if attempt == 2:
                        raise SubmitFailed(f"the job launcher did not answer: {exc}") from exc
                    continue
                if reply is _GONE:
                    self._forget(sock)
                    if attempt == 2:
                        raise SubmitFailed("the job launcher died while starting the job")
                    continue
                if reply.get("op") != "started":
                    raise SubmitFailed(f"the job launcher refused: {reply.get('error')}")
                return int(reply["pid"]), float(reply["create_time"])
        raise AssertionError("unreachable")

    def _ensure_started(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.set_inheritable(theirs.fileno(), True)
            argv = [
                sys.executable,
                "-m",
                "vatti.executors.launcher",
                str(theirs.fileno()),
                *self.preload,
            ]
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
            try:
                pid = os.posix_spawn(
                    argv[0], argv, self.env, file_actions=actions, setsid=True, setsigdef=()
                )
            except OSError as exc:
                ours.close()
                raise SubmitFailed(f"cannot start the job launcher: {exc}") from exc
        finally:
            theirs.close()
        self._replies = queue.Queue()
        self._sock, self.pid = ours, pid
        reader = threading.Thread(
            target=self._read, args=(ours, pid, self._replies), name="vatti-launcher", daemon=True
        )
        reader.start()
        return ours

    def _forget(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self._sock = None
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _read(self, sock: socket.socket, pid: int, replies: queue.Queue[dict[str, Any]]) -> None:
        try:
            with sock.makefile("rb") as stream:
                for line in stream:
                    message = json.loads(line)
                    if message.get("op") == "exited":
                        for callback in list(self._callbacks):
                            callback(str(message["job_id"]))
                    else:
                        replies.put(message)
        except (OSError, ValueError):
            pass
        finally:
            replies.put(_GONE)
            if self._sock is sock:  # not under the lock: a request may hold it, waiting
                self._sock = None
            sock.close()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)  # the launcher is our child: no zombie left

    def close(self) -> None:
        """Stop the launcher (it exits when its socket closes); running jobs go on."""
        with self._lock:
            sock = self._sock
            self._sock = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
