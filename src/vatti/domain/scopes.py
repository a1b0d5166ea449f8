"""The one scope grammar of every token (HTTP API, token CLI, ``VATTI_API_TOKENS``) (pure).

A scope is ``verb[:pipeline[:command]]``:

- ``read``: list and read jobs, their events, logs and outputs;
- ``submit``: submit, cancel and retry jobs; ``submit:pgs`` only ``pgs`` jobs,
  ``submit:command:hello`` only the ``command`` pipeline's ``hello`` command;
- ``admin``: everything, on every tenant's jobs.

Only ``submit`` can be narrowed. Names are lower-case letters, digits, ``_`` and ``-``.

>>> sorted(str(s) for s in parse_scopes("read, submit:pgs"))
['read', 'submit:pgs']
>>> parse_scope("submit:command:hello").allows_submit("command", "hello")
True
>>> parse_scope("submit:command:hello").allows_submit("command", "noop")
False
>>> parse_scope("submit:pgs").allows_submit("command", None)
False
>>> parse_scope("read:pgs")
Traceback (most recent call last):
...
vatti.domain.scopes.InvalidScope: only the submit scope can be narrowed to a pipeline: 'read:pgs'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

SUBMIT: Final = "submit"
READ: Final = "read"
ADMIN: Final = "admin"
VERBS: Final = (SUBMIT, READ, ADMIN)

#: what a pipeline or command name in a scope may be
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: the grammar, said once for every error message
GRAMMAR: Final = "submit, read, admin, submit:PIPELINE or submit:PIPELINE:COMMAND"


class InvalidScope(ValueError):
    """A scope outside the grammar (the message names it and says the grammar)."""


@dataclass(frozen=True, order=True)
class Scope:
    verb: str
    pipeline: str | None = None
    command: str | None = None

    def __str__(self) -> str:
        return ":".join(p for p in (self.verb, self.pipeline, self.command) if p is not None)

    def allows_submit(self, pipeline: str, command: str | None) -> bool:
        """Whether this scope lets a job of ``pipeline`` (and ``command``) be submitted."""
        if self.verb == ADMIN:
            return True
        if self.verb != SUBMIT:
            return False
        if self.pipeline is not None and self.pipeline != pipeline:
            return False
        return self.command is None or self.command == command


def parse_scope(text: str) -> Scope:
    """One scope; :class:`InvalidScope` naming what is wrong."""
    parts = text.strip().split(":")
    verb = parts[0]
    if verb not in VERBS:
        raise InvalidScope(f"unknown scope {text.strip()!r}: use {GRAMMAR}")
    if len(parts) > 1 and verb != SUBMIT:
        raise InvalidScope(f"only the submit scope can be narrowed to a pipeline: {text.strip()!r}")
    if len(parts) > 3 or any(not _NAME.fullmatch(p) for p in parts[1:]):
        raise InvalidScope(f"malformed scope {text.strip()!r}: use {GRAMMAR}")
    return Scope(verb, *parts[1:])


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """Comma-separated scopes (or several), at least one; :class:`InvalidScope` otherwise."""
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    scopes = frozenset(parse_scope(s) for s in items if s.strip())
    if not scopes:
        raise InvalidScope(f"give at least one scope: {GRAMMAR}")
    return scopes


def format_scopes(scopes: Iterable[Scope]) -> str:
    """The comma-separated text of scopes, sorted (how they are stored and listed)."""
    return ",".join(sorted(str(s) for s in scopes))


def is_admin(scopes: Iterable[Scope]) -> bool:
    return any(s.verb == ADMIN for s in scopes)


def can_read(scopes: Iterable[Scope]) -> bool:
    return any(s.verb in (READ, ADMIN) for s in scopes)


def can_submit_any(scopes: Iterable[Scope]) -> bool:
    """Whether some submission is allowed (the check before the request is read)."""
    return any(s.verb in (SUBMIT, ADMIN) for s in scopes)


def can_submit(scopes: Iterable[Scope], pipeline: str, command: str | None) -> bool:
    return any(s.allows_submit(pipeline, command) for s in scopes)


def command_of(pipeline: str, params: Any) -> str | None:
    """The command a request names, for ``submit:PIPELINE:COMMAND`` scopes: the ``command``
    pipeline's ``params.command`` (the one place that knows where a request says it); None for
    another pipeline or a raw argv.

    >>> command_of("command", {"command": "hello", "args": {}}), command_of("pgs", {})
    ('hello', None)
    >>> command_of("command", {"argv": ["true"]}) is None
    True
    """
    if pipeline != "command" or not isinstance(params, dict):
        return None
    name = params.get("command")
    return name if isinstance(name, str) else None
