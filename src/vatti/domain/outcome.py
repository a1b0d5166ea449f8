"""The outcome record: how ``vatti job-run`` tells the engine what happened.

The runtime writes it to :func:`vatti.domain.layout.outcome_key` (outside ``work/``, so cleaning
the work area does not lose it); the engine reads it once the process has exited and
deletes it with the rest of the job's transient files. Plain JSON, no secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vatti.domain.errors import UnreadableRecord
from vatti.domain.failure import Failure

OUTCOME_VERSION = 1


@dataclass(frozen=True)
class Outcome:
    """Success (``failure is None``) with the uploaded output names, or the failure."""

    finished_at: datetime
    outputs: list[str] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "version": OUTCOME_VERSION,
            "ok": self.ok,
            "finished_at": self.finished_at.isoformat(),
            "outputs": list(self.outputs),
            "failure": self.failure.to_dict() if self.failure is not None else None,
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Outcome:
        """Parse a record written by :meth:`to_json`.

        >>> o = Outcome(datetime.fromisoformat("2025-01-01T00:00:00+00:00"), ["a.txt"])
        >>> Outcome.from_json(o.to_json()) == o
        True
        """
        try:
            body = json.loads(data)
            finished_at = datetime.fromisoformat(body["finished_at"])
            outputs = [str(name) for name in body.get("outputs") or []]
            raw = body.get("failure")
            failure = None
            if raw is not None:
                exit_code = raw.get("exit_code")
                failure = Failure(
                    code=str(raw["code"]),
                    message=str(raw["message"]),
                    step=None if raw.get("step") is None else str(raw["step"]),
                    exit_code=None if exit_code is None else int(exit_code),
                )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UnreadableRecord(f"unreadable outcome record: {exc}") from exc
        if finished_at.tzinfo is None:
            raise UnreadableRecord("unreadable outcome record: naive finished_at")
        return cls(finished_at=finished_at, outputs=outputs, failure=failure)
