"""The local executor's handle: everything needed to find a job's process after a restart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from vatti.executors.errors import BadHandle

HANDLE_VERSION = 2


@dataclass(frozen=True)
class LocalHandle:
    """A wrapper process: pid, group, start time (against pid reuse), run and scratch dirs,
    deadline.

    ``deadline`` is a Unix time (wall clock, so it survives restarts), or None for no limit: the
    executor's own limit, vatti's wall time plus a margin.
    """

    job_id: str
    pid: int
    pgid: int
    create_time: float
    run_dir: str
    scratch_dir: str
    deadline: float | None = None

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)

    @property
    def scratch_path(self) -> Path:
        return Path(self.scratch_dir)

    def dumps(self) -> str:
        """The JSON form stored by the engine.

        >>> h = LocalHandle("j1", 10, 10, 1.5, "/d/runs/j1", "/d/scratch/j1", None)
        >>> LocalHandle.loads(h.dumps()) == h
        True
        """
        return json.dumps({"executor": "local", "v": HANDLE_VERSION, **asdict(self)})

    @classmethod
    def loads(cls, text: str) -> LocalHandle:
        try:
            body = json.loads(text)
            if body.get("executor") != "local" or body.get("v") != HANDLE_VERSION:
                raise ValueError("not a local executor handle")
            deadline = body.get("deadline")
            return cls(
                job_id=str(body["job_id"]),
                pid=int(body["pid"]),
                pgid=int(body["pgid"]),
                create_time=float(body["create_time"]),
                run_dir=str(body["run_dir"]),
                scratch_dir=str(body["scratch_dir"]),
                deadline=None if deadline is None else float(deadline),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadHandle(f"invalid local executor handle: {exc}") from exc
