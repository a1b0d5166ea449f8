"""Why a job failed: a stable code, a message, and the failing step's trace.

``step`` and ``exit_code`` mirror hattivatti's ``trace_name`` / ``trace_exit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FailureCode(StrEnum):
    """The stable failure codes vatti itself assigns. Pipelines may use codes of their own."""

    PIPELINE_FAILED = "pipeline_failed"
    MIN_OVERLAP = "min_overlap"
    TIMEOUT = "timeout"
    QUEUE_TIMEOUT = "queue_timeout"
    VANISHED = "vanished"
    CANCELLED = "cancelled"
    PROVISION_FAILED = "provision_failed"
    INTERNAL = "internal"


#: Codes of failures caused by the service or its infrastructure rather than by the pipeline.
SYSTEM_FAILURE_CODES: frozenset[str] = frozenset(
    {
        FailureCode.TIMEOUT,
        FailureCode.QUEUE_TIMEOUT,
        FailureCode.VANISHED,
        FailureCode.CANCELLED,
        FailureCode.PROVISION_FAILED,
        FailureCode.INTERNAL,
    }
)


@dataclass(frozen=True)
class Failure:
    """Why a job ended ``failed`` (or ``cancelled``)."""

    code: str
    message: str
    step: str | None = None
    exit_code: int | None = None

    @property
    def from_pipeline(self) -> bool:
        """True when a pipeline step failed (any code that is not a system code).

        >>> Failure("pipeline_failed", "exit 3", step="command", exit_code=3).from_pipeline
        True
        >>> Failure("vanished", "process gone").from_pipeline
        False
        """
        return self.code not in SYSTEM_FAILURE_CODES

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "step": self.step,
            "exit_code": self.exit_code,
        }
