"""What the API reads besides the job store: job outputs and job logs.

Implementations live with the storage they read (object store, executor log files); the API
only needs these two small protocols. :func:`parse_manifest` and :func:`tail_lines` are the pure
helpers such implementations share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutputEntry:
    """One file of a job's results, as listed in its manifest."""

    name: str
    size: int
    sha256: str


class OutputsReader(Protocol):
    def list_outputs(self, job_id: str) -> list[OutputEntry] | None:
        """The manifest's entries; None when the job has no results (yet, or anymore)."""
        ...

    def open_output(self, job_id: str, name: str) -> Iterator[bytes] | None:
        """The file's bytes in chunks; None when there is no such output."""
        ...


class LogsReader(Protocol):
    def read_log(self, job_id: str, tail: int | None) -> str | None:
        """The job's log text (only the last ``tail`` lines if given); None when there is none."""
        ...


def parse_manifest(raw: bytes) -> list[OutputEntry]:
    """The entries of a results manifest (``{"outputs": [{name, size, sha256}, ...]}``).

    >>> parse_manifest(b'{"outputs": [{"name": "a.txt", "size": 3, "sha256": "ab"}]}')
    [OutputEntry(name='a.txt', size=3, sha256='ab')]
    """
    body = json.loads(raw)
    return [
        OutputEntry(name=str(e["name"]), size=int(e["size"]), sha256=str(e["sha256"]))
        for e in body.get("outputs", [])
    ]


def tail_lines(text: str, tail: int | None) -> str:
    """The last ``tail`` lines of ``text`` (all of it when ``tail`` is None).

    >>> tail_lines("a\\nb\\nc\\n", 2)
    'b\\nc\\n'
    >>> tail_lines("a\\nb", 0)
    ''
    """
    if tail is None:
        return text
    if tail <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:])
