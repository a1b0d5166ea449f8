"""Inputs that are objects in a bucket (``s3://bucket/key``, ``gs://bucket/key``), read in one
streaming GET.

The bucket is reached as the work and results stores are (:mod:`vatti.staging.buckets`): the
endpoint, region, addressing and credentials are the ``VATTI_S3_*`` / ``VATTI_GCS_*`` settings,
passed explicitly, so no credential is looked up from the environment or a cloud metadata
server. A job's runtime gets those secret settings on its secrets pipe, as for the stores.
The object's size is known from the GET's answer before its first byte is read, so a size other
than declared fails at once, and the free space of the scratch is checked against it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from vatti.config import StoreSettings
from vatti.domain.urls import redact_url
from vatti.errors import ConfigError
from vatti.staging.errors import InvalidKey, ObjectNotFound, StorageError
from vatti.staging.failures import InputCode, input_failed
from vatti.staging.retries import RetryPolicy

#: the bucket schemes an input may name
BUCKET_SCHEMES = ("s3", "gs")
#: bytes asked of each chunk of the GET's stream
CHUNK = 1 << 20


def split_object_url(url: str) -> tuple[str, str]:
    """``(scheme://bucket, key)`` of an object URL; ValueError when it names no object.

    >>> split_object_url("s3://genomes/run%201/x.pgen.c4gh")
    ('s3://genomes', 'run 1/x.pgen.c4gh')
    >>> split_object_url("s3://genomes/")
    Traceback (most recent call last):
    ...
    ValueError: 's3://genomes/' names a bucket, not an object in it
    """
    parts = urlsplit(url)
    key = unquote(parts.path).lstrip("/")
    if not key or key.endswith("/"):
        raise ValueError(f"{redact_url(url)!r} names a bucket, not an object in it")
    return f"{parts.scheme.lower()}://{parts.netloc}", key


class ObjectReader(io.RawIOBase):
    """The bytes of one object, as its GET's stream delivers them."""

    def __init__(self, size: int, chunks: Iterator[bytes], what: str) -> None:
        super().__init__()
        self.length = size
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            try:
                self._pending = memoryview(next(self._chunks, b""))
            except StorageError as exc:
                raise input_failed(
                    InputCode.UNREACHABLE, f"{self._what}: reading it broke off: {exc.message}"
                ) from None
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


def open_object(
    url: str, settings: StoreSettings | None, what: str, retries: RetryPolicy | None = None
) -> ObjectReader:
    """A reader of the object at ``url``; fails (a StepFailed of step ``inputs``) before the
    first byte when the object cannot be read."""
    from vatti.staging.objects import ObjectStore

    shown = redact_url(url)
    if settings is None:
        raise input_failed(
            InputCode.REFUSED, f"{what}: this runtime has no bucket settings to read {shown}"
        )
    try:
        bucket, key = split_object_url(url)
        store = ObjectStore.from_url(bucket, settings, (retries or RetryPolicy()).obstore_config())
        size, chunks = store.open_sized(key, CHUNK)
    except (ValueError, InvalidKey) as exc:
        message = exc.message if isinstance(exc, InvalidKey) else str(exc)
        raise input_failed(InputCode.REFUSED, f"{what}: {message}") from None
    except ObjectNotFound:
        raise input_failed(InputCode.MISSING, f"{what}: no such object in the bucket") from None
    except ConfigError as exc:
        raise input_failed(InputCode.REFUSED, f"{what}: {exc.message}") from None
    except StorageError as exc:
        from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

        if isinstance(exc.__cause__, PermissionDeniedError | UnauthenticatedError):
            settings_named = (
                "VATTI_GCS_SERVICE_ACCOUNT_KEY"
                if url.lower().startswith("gs:")
                else "VATTI_S3_ACCESS_KEY_ID and VATTI_S3_SECRET_ACCESS_KEY"
            )
            raise input_failed(
                InputCode.UNAUTHORIZED,
                f"{what}: the bucket refused access (check {settings_named})",
            ) from None
        raise input_failed(
            InputCode.UNREACHABLE, f"{what}: the bucket cannot be read: {exc.message}"
        ) from None
    return ObjectReader(size, chunks, what)
