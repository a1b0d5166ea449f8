"""The outcome record: how ``vatti job-run`` tells the engine what happened.

A job that succeeded may still carry warnings: what it could not do, such as the scores of a
``pgs`` job dropped below ``min_overlap`` while the others were computed. They go with the
``succeeded`` event (its ``detail``) into the job's events and its notifications.

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
class JobWarning:
    """Something a job that succeeded did not do: a stable ``code``, a message for people and
    ``data`` for programs (JSON values), e.g. the sampleset, accession and match rate of a
    score that was not computed."""

    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobWarning:
        """The warning of :meth:`to_dict` (``KeyError``/``TypeError`` when it is not one).

        >>> w = JobWarning("pgs_min_overlap", "custom in cineca: none of 2 variants matched")
        >>> JobWarning.from_dict(w.to_dict()) == w
        True
        """
        data = raw.get("data") or {}
        if not isinstance(data, dict):
            raise TypeError("warning data must be an object")
        return cls(code=str(raw["code"]), message=str(raw["message"]), data=dict(data))


@dataclass(frozen=True)
class Outcome:
    """Success (``failure is None``) with the uploaded output names and any warnings, or the
    failure."""

    finished_at: datetime
    outputs: list[str] = field(default_factory=list)
    failure: Failure | None = None
    warnings: list[JobWarning] = field(default_factory=list)
    #: figures of a job that succeeded, bounded in size and naming no input (JSON values), e.g.
    #: a ``pgs`` job's match rates (:mod:`vatti.domain.match_rates`); read by ``/metrics``
    summary: dict[str, Any] = field(default_factory=dict)

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
            "warnings": [w.to_dict() for w in self.warnings],
            "summary": dict(self.summary),
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Outcome:
        """Parse a record written by :meth:`to_json`.

        >>> at = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
        >>> o = Outcome(at, ["a.txt"], warnings=[JobWarning("w", "partial", {"n": 1})])
        >>> Outcome.from_json(o.to_json()) == o
        True
        """
        try:
            body = json.loads(data)
            finished_at = datetime.fromisoformat(body["finished_at"])
            outputs = [str(name) for name in body.get("outputs") or []]
            warnings = [JobWarning.from_dict(w) for w in body.get("warnings") or []]
            summary = body.get("summary") or {}
            if not isinstance(summary, dict):
                raise TypeError("summary must be an object")
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
        return cls(
            finished_at=finished_at,
            outputs=outputs,
            failure=failure,
            warnings=warnings,
            summary=summary,
        )
