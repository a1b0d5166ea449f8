"""hattivatti's Kafka messages as the intake reads them, and its refusals (pure: no I/O).

A message value is JSON in hattivatti's ``JobRequest`` shape. As hattivatti does, top-level
fields it does not know are ignored (the intake logs them); what is left is submitted through
the job service, which validates it as the HTTP API does. A message refused (not JSON, not
hattivatti's shape, invalid params) is copied to the dead-letter topic with the reason in its
headers, and a ``Failed`` status is sent for its ``run_name`` when the message names one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vatti.domain import hattivatti
from vatti.domain.times import as_utc

#: the top-level parts of hattivatti's message; any other is ignored
KNOWN_PARTS = frozenset({hattivatti.PIPELINE_PARAM, *hattivatti.BESIDE})
#: the ``trace_name`` of the ``Failed`` status of a refused message (no step of a job failed)
REFUSED_TRACE = "message validation"
#: the headers of a dead letter (beside the original message's own)
ERROR_HEADER = "vatti-error"
DETAILS_HEADER = "vatti-error-details"
SOURCE_HEADER = "vatti-source"


class Unreadable(ValueError):
    """The message cannot be submitted at all (not JSON, not an object, no pipeline_param)."""


@dataclass(frozen=True)
class Reading:
    """A message's JSON object without its unknown parts, and the names of those parts."""

    data: dict[str, Any]
    ignored: list[str] = field(default_factory=list)


def read_message(value: bytes | None) -> Reading:
    """The message in ``value``, its unknown top-level fields dropped; :class:`Unreadable` when
    there is no hattivatti message in it.

    >>> read_message(b'{"pipeline_param": {"id": "INTP1"}, "requester": "x"}')
    Reading(data={'pipeline_param': {'id': 'INTP1'}}, ignored=['requester'])
    >>> read_message(b'{"pipeline": "pgs"}')
    Traceback (most recent call last):
    ...
    vatti.intake.messages.Unreadable: not a hattivatti job message: it has no pipeline_param
    """
    if not value:
        raise Unreadable("the message is empty")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        raise Unreadable("the message is not valid JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise Unreadable("the message is not a JSON object")
    if not hattivatti.is_message(data):
        raise Unreadable("not a hattivatti job message: it has no pipeline_param")
    ignored = sorted(str(name) for name in data if name not in KNOWN_PARTS)
    return Reading({k: v for k, v in data.items() if k in KNOWN_PARTS}, ignored)


def run_name(value: bytes | None) -> str | None:
    """The run id (``pipeline_param.id``) of a message, when one can be read from it.

    >>> run_name(b'{"pipeline_param": {"id": "INTP7", "target_genomes": 3}}')
    'INTP7'
    >>> run_name(b'{"pipeline_param": {"id": 7}}'), run_name(b'not json'), run_name(None)
    (None, None, None)
    """
    try:
        data = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None
    params = data.get(hattivatti.PIPELINE_PARAM) if isinstance(data, dict) else None
    run_id = params.get("id") if isinstance(params, dict) else None
    return run_id if isinstance(run_id, str) and run_id else None


def utc_time(at: datetime) -> str:
    """hattivatti's ``utc_time`` spelling (as the webhook's).

    >>> from datetime import UTC
    >>> utc_time(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    '2025-01-02T03:04:05Z'
    """
    return as_utc(at).isoformat().replace("+00:00", "Z")


def refused_status(name: str, at: datetime) -> dict[str, Any]:
    """The ``Failed`` status of a refused message whose run is ``name``.

    >>> from datetime import UTC
    >>> refused_status("INTP7", datetime(2025, 1, 1, tzinfo=UTC))  # doctest: +NORMALIZE_WHITESPACE
    {'run_name': 'INTP7', 'utc_time': '2025-01-01T00:00:00Z', 'event': 'Failed',
     'trace_name': 'message validation', 'trace_exit': None}
    """
    return {
        "run_name": name,
        "utc_time": utc_time(at),
        "event": "Failed",
        "trace_name": REFUSED_TRACE,
        "trace_exit": None,
    }


def dead_letter_headers(
    reason: str,
    details: Sequence[Mapping[str, str]],
    source: str,
    original: Sequence[tuple[str, bytes]] = (),
) -> list[tuple[str, bytes]]:
    """The headers of a dead letter: the original's, then the reason, each bad field, and
    where the message came from (``topic/partition/offset``).

    >>> dead_letter_headers("bad", [{"field": "f", "message": "m"}], "t/0/5")
    ... # doctest: +NORMALIZE_WHITESPACE
    [('vatti-error', b'bad'), ('vatti-error-details', b'[{"field":"f","message":"m"}]'),
     ('vatti-source', b't/0/5')]
    """
    kept = [(k, v) for k, v in original if not k.startswith("vatti-")]
    listed = json.dumps([dict(d) for d in details], separators=(",", ":"))
    return [
        *kept,
        (ERROR_HEADER, reason.encode()),
        (DETAILS_HEADER, listed.encode()),
        (SOURCE_HEADER, source.encode()),
    ]


def encode(payload: Mapping[str, Any]) -> bytes:
    """A message value: compact JSON.

    >>> encode({"run_name": "INTP1", "event": "Deployed"})
    b'{"run_name":"INTP1","event":"Deployed"}'
    """
    return json.dumps(dict(payload), separators=(",", ":")).encode()
