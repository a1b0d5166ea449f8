"""A Kubernetes API server for the tests: ``kmock``'s emulator on loopback, in a thread of its own.

kmock (PyPI) stores objects and answers create, read, list, patch, delete and watch requests
the way the API server does; it has no controllers, no garbage collector, no ``pods/log`` and
assigns no uids. :class:`ApiServer` adds what the Kubernetes executor relies on and a real
API server does itself:

- ``metadata.uid``, ``creationTimestamp`` and ``resourceVersion`` on every created object;
- a ``DELETE`` with ``propagationPolicy=Foreground`` keeps the object, with the
  ``foregroundDeletion`` finalizer, ``deletionTimestamp`` and ``deletionGracePeriodSeconds``,
  until its dependents are gone (the test-side node, :mod:`vatti.testing.kubelet`, plays the
  garbage collector and removes the finalizer);
- ``pods/{name}/log`` answered by a function the node gives (its containers' output).

Label selectors are not applied (kmock ignores them): the executor filters what it lists.
:func:`start_api_server` runs it for a test session; skip, or fail in CI, without kmock.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

from vatti.testing.services import missing

#: the resources the executor and the node use
RESOURCES = {
    "batch/v1/jobs": "Job",
    "v1/pods": "Pod",
    "v1/secrets": "Secret",
}
_LOG_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
START_TIMEOUT_S = 30.0

#: reads the log of a pod: (namespace, name, limitBytes) → bytes, or raises a kmock error
LogReader = Callable[[str, str, int | None], bytes]


def _emulator_class() -> type[Any]:
    import kmock
    from kmock import action

    class ApiServer(kmock.KubernetesEmulator):
        """kmock's emulator plus uids, timestamps and foreground deletion (module docs)."""

        async def _handle(self, request: Any) -> Any:
            creating = request.action == action.CREATE and isinstance(request.data, dict)
            if request.resource is not None and creating:
                meta = request.data.setdefault("metadata", {})
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now_iso())
                meta["resourceVersion"] = str(next(_versions))
            if request.action == action.DELETE and request.name is not None:
                await self._keep_for_foreground(request)
            return await super()._handle(request)

        async def _keep_for_foreground(self, request: Any) -> None:
            if request.params.get("propagationPolicy") != "Foreground":
                return
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                if key not in self._objects or self._objects[key].deleted:
                    return
                obj = self._objects[key]
                meta = obj.get("metadata", {})
                if meta.get("deletionTimestamp"):
                    return
                grace = request.params.get("gracePeriodSeconds")
                finalizers = [*meta.get("finalizers", []), "foregroundDeletion"]
                change: dict[str, Any] = {"finalizers": finalizers}
                if grace is not None:
                    change["deletionGracePeriodSeconds"] = int(grace)
                obj.patch({"metadata": change})

    return ApiServer


_versions = count(1)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ApiServerThread:
    """The emulator served on 127.0.0.1 from a thread's event loop; ``url`` once started."""

    url: str = ""
    emulator: Any = None
    log_reader: LogReader | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: list[BaseException] = field(default_factory=list)

    def _serve_log(self, request: Any) -> bytes:
        from kmock import KubernetesObjectNotFoundError

        match = _LOG_PATH.match(request.url.path)
        if match is None or self.log_reader is None:
            raise KubernetesObjectNotFoundError()
        limit = request.params.get("limitBytes")
        return self.log_reader(match[1], match[2], None if limit is None else int(limit))

    async def _main(self) -> None:
        import kmock

        emulator = _emulator_class()()
        async with emulator, kmock.Server(emulator) as server:
            for path, kind in RESOURCES.items():
                emulator.resources[path] = kmock.ResourceInfo(kind=kind, namespaced=True)
            emulator["get", _LOG_PATH] << self._serve_log
            self.emulator, self.url = emulator, str(server.url).rstrip("/")
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error.append(exc)
            self._ready.set()

    def start(self) -> ApiServerThread:
        self._thread = threading.Thread(target=self._run, name="kmock-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._error:
            raise RuntimeError(f"the Kubernetes API emulator did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def requests(self) -> list[Any]:
        """Every request the server received so far (kmock's records)."""
        return list(self.emulator) if self.emulator is not None else []


@contextlib.contextmanager
def running_api_server() -> Iterator[ApiServerThread]:
    """The emulator for a test session; skip (fail under ``CI=true``) when kmock is missing."""
    try:
        import kmock  # noqa: F401
    except ImportError:
        missing("kmock (the Kubernetes API emulator)", "pip install -e '.[dev]'")
    server = ApiServerThread().start()
    try:
        yield server
    finally:
        server.stop()
