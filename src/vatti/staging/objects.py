"""One object-store interface over obstore, addressed by URL (sync).

``file:///abs/dir`` (created if missing), ``s3://bucket/prefix``, ``gs://bucket/prefix`` (reached
as :mod:`vatti.staging.buckets` configures them) and ``memory:///`` (tests). Keys are relative to
the URL's prefix and validated (no ``..``, no leading ``/``). Driver errors become
:class:`~vatti.staging.errors.StorageError` (or :class:`~vatti.staging.errors.ObjectNotFound`)
naming the key, never credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import GCSStore, LocalStore, MemoryStore, S3Store

from vatti.config import StoreSettings
from vatti.domain.urls import redact_url
from vatti.errors import ConfigError
from vatti.staging.buckets import BucketConfig, bucket_config
from vatti.staging.errors import ObjectNotFound, StorageError
from vatti.staging.keys import check_key, check_prefix

if TYPE_CHECKING:
    from obstore.store import ObjectStore as ObstoreStore

#: read and stream chunk size
CHUNK = 8 << 20
#: objects per delete request (S3 accepts up to 1000)
DELETE_BATCH = 1000
SCHEMES = ("file", "s3", "gs", "memory")


def _fail(op: str, key: str, exc: Exception) -> NoReturn:
    if isinstance(exc, (FileNotFoundError, NotFoundError)):
        raise ObjectNotFound(f"no object at {key!r}") from None
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    raise StorageError(f"{op} {key!r} failed: {type(exc).__name__}: {first_line}") from exc


@contextlib.contextmanager
def _translated(op: str, key: str) -> Iterator[None]:
    try:
        yield
    except (BaseError, OSError) as exc:
        _fail(op, key, exc)


class ObjectStore:
    """Bytes and files under keys, in a local directory or a bucket."""

    def __init__(self, store: ObstoreStore, url: str) -> None:
        self._store = store
        self.url = redact_url(url)

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    @classmethod
    def from_url(
        cls, url: str, settings: StoreSettings | None = None, retry: Any | None = None
    ) -> ObjectStore:
        """The store at ``url``; buckets are reached as ``settings`` say (:mod:`.buckets`;
        default: the settings' defaults, whatever the environment holds), retrying as obstore's
        ``retry`` config says (default: obstore's)."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in SCHEMES:
            raise ConfigError(
                f"unsupported object store URL scheme {scheme!r} in {redact_url(url)}"
            )
        try:
            if scheme == "file":
                return cls(LocalStore(_local_root(url), automatic_cleanup=True), url)
            if scheme == "memory":
                return cls(MemoryStore(), url)
            bucket = bucket_config(url, settings or StoreSettings())
            return cls(_bucket_store(bucket, retry), url)
        except (BaseError, OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot open the object store {redact_url(url)}: {type(exc).__name__}"
            ) from None

    def get_bytes(self, key: str) -> bytes:
        with _translated("get", check_key(key)):
            return bytes(obstore.get(self._store, key).bytes())

    def put_bytes(self, key: str, data: bytes) -> None:
        with _translated("put", check_key(key)):
            obstore.put(self._store, key, data)

    def put_file(self, key: str, path: Path) -> None:
        """Upload ``path`` in chunks (multipart above the chunk size), never read whole."""
        with _translated("put", check_key(key)), Path(path).open("rb") as file:
            obstore.put(self._store, key, file)

    def open_stream(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks; raises :class:`ObjectNotFound` before the first one."""
        return self.open_sized(key)[1]

    def open_sized(self, key: str, chunk_size: int = CHUNK) -> tuple[int, Iterator[bytes]]:
        """The object's size and its bytes in chunks of about ``chunk_size``, from one streaming
        GET; raises :class:`ObjectNotFound` before the first one."""
        with _translated("get", check_key(key)):
            result = obstore.get(self._store, key)
        size = int(result.meta["size"])
        return size, self._chunks(key, result.stream(min_chunk_size=chunk_size))

    @staticmethod
    def _chunks(key: str, stream: Iterator[Any]) -> Iterator[bytes]:
        with _translated("read", key):
            for chunk in stream:
                yield bytes(chunk)

    def list_dirs(self, prefix: str) -> list[str]:
        """The names of the "directories" right under ``prefix`` (one listing by delimiter,
        not of every object below), sorted."""
        check_prefix(prefix)
        base = prefix.rstrip("/")
        with _translated("list", prefix):
            found = obstore.list_with_delimiter(self._store, base)
        return sorted(p.rstrip("/").rpartition("/")[2] for p in found["common_prefixes"])

    def list(self, prefix: str) -> list[tuple[str, int]]:
        """``(key, size)`` of every object under ``prefix`` (whole path segments), sorted."""
        check_prefix(prefix)
        out: list[tuple[str, int]] = []
        with _translated("list", prefix):
            for batch in obstore.list(self._store, prefix.rstrip("/")):
                out.extend((meta["path"], int(meta["size"])) for meta in batch)
        return sorted(out)

    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing one is not an error."""
        try:
            with _translated("delete", check_key(key)):
                obstore.delete(self._store, key)
        except ObjectNotFound:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (idempotent); returns how many there were."""
        keys = [key for key, _ in self.list(prefix)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                with _translated("delete", prefix):
                    obstore.delete(self._store, batch)
            except ObjectNotFound:  # raced with another deleter: fall back to one by one
                for key in batch:
                    self.delete(key)
        return len(keys)


def _bucket_store(bucket: BucketConfig, retry: Any | None = None) -> ObstoreStore:
    if bucket.scheme == "s3":
        return S3Store(
            bucket.bucket,
            prefix=bucket.prefix,
            config=bucket.config,  # type: ignore[arg-type]
            client_options=bucket.client_options,  # type: ignore[arg-type]
            retry_config=retry,
            credential_provider=bucket.credentials,
        )
    return GCSStore(
        bucket.bucket,
        prefix=bucket.prefix,
        config=bucket.config,  # type: ignore[arg-type]
        client_options=bucket.client_options,  # type: ignore[arg-type]
        retry_config=retry,
    )


def _local_root(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"file:// URLs name a local directory, not host {parts.netloc!r}")
    root = Path(unquote(parts.path))
    if not root.is_absolute() or ".." in root.parts:
        raise ConfigError(f"file:// URL needs an absolute directory: {url!r}")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root
