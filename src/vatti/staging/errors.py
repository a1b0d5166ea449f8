"""Errors of the object store and the job areas in it."""

from __future__ import annotations

from vatti.errors import VattiError


class StorageError(VattiError):
    """The object store failed (network, permissions, configuration)."""

    code = "storage_error"


class InvalidKey(StorageError):
    """A key or prefix that could escape its area (``..``, a leading ``/``, empty parts)."""

    code = "invalid_key"


class ObjectNotFound(StorageError):
    """No object at the key."""

    code = "object_not_found"


class OutputNotFound(ObjectNotFound):
    """A job has no such output (or no results at all: never produced, expired or deleted)."""

    code = "output_not_found"


class Crypt4ghError(VattiError):
    """A crypt4gh file that cannot be read."""

    code = "crypt4gh_error"


class WrongKey(Crypt4ghError):
    """No header packet of the file opens with the given secret keys."""

    code = "decrypt_wrong_key"


class CorruptCrypt4gh(Crypt4ghError):
    """Not a crypt4gh file, or a corrupted or truncated one."""

    code = "input_corrupt"
