"""Reading an executor's handle back: the JSON object it wrote, or :class:`BadHandle`."""

from __future__ import annotations

import json
from typing import Any

from vatti.executors.errors import BadHandle


def handle_fields(text: str, executor: str, version: int) -> dict[str, Any]:
    """The fields of a handle that executor ``executor`` wrote in format ``version``.

    >>> handle_fields('{"executor": "slurm", "v": 1, "slurm_id": "4"}', "slurm", 1)["slurm_id"]
    '4'
    >>> handle_fields('{"executor": "local", "v": 2}', "slurm", 1)
    Traceback (most recent call last):
    ...
    vatti.executors.errors.BadHandle: invalid slurm executor handle: not one of its handles
    """
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadHandle(f"invalid {executor} executor handle: {exc}") from exc
    if not isinstance(body, dict) or body.get("executor") != executor or body.get("v") != version:
        raise BadHandle(f"invalid {executor} executor handle: not one of its handles")
    return body
