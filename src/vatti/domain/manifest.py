"""The results manifest: the one record of a job's outputs (name, size, SHA-256), pure.

The runtime writes it after uploading the outputs; the API lists and serves only the files it
names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vatti.domain.errors import UnreadableRecord


@dataclass(frozen=True)
class OutputEntry:
    """One uploaded output file."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    job_id: str
    outputs: tuple[OutputEntry, ...]

    def to_json(self) -> bytes:
        body = {"job_id": self.job_id, "outputs": [vars(e) for e in self.outputs]}
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_json(cls, job_id: str, data: bytes) -> Manifest:
        """Parse a manifest written by :meth:`to_json`.

        >>> m = Manifest("j1", (OutputEntry("a.txt", 3, "ab"),))
        >>> Manifest.from_json("j1", m.to_json()) == m
        True
        >>> Manifest.from_json("j1", b"{}")
        Traceback (most recent call last):
        ...
        vatti.domain.errors.UnreadableRecord: the manifest of job j1 is unreadable: 'outputs'
        """
        try:
            body = json.loads(data)
            entries = tuple(
                OutputEntry(str(o["name"]), int(o["size"]), str(o["sha256"]))
                for o in body["outputs"]
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise UnreadableRecord(f"the manifest of job {job_id} is unreadable: {exc}") from exc
        return cls(job_id, entries)

    def entry(self, name: str) -> OutputEntry | None:
        return next((e for e in self.outputs if e.name == name), None)
