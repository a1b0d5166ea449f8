"""Structured engine logs: a stable event name first, then ``job_id`` and key=value fields.

The same values travel in ``record.__dict__`` (``vatti_event``, ``job_id``, ``fields``) for a
JSON formatter.
"""

from __future__ import annotations

import logging
from typing import Any

LOGGER_NAME = "vatti.engine"


def engine_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def log_event(
    logger: logging.Logger,
    event: str,
    /,
    *,
    job_id: str | None = None,
    level: int = logging.INFO,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """Log ``event`` (e.g. ``job.admitted``) with the job id and fields on the same line."""
    parts = [event]
    if job_id is not None:
        parts.append(f"job_id={job_id}")
    parts.extend(f"{key}={value!r}" for key, value in fields.items())
    logger.log(
        level,
        " ".join(parts),
        exc_info=exc_info,
        extra={"vatti_event": event, "job_id": job_id, "fields": fields},
    )
