"""Staging a job's declared inputs into its private scratch, before its pipeline runs.

Each input gets ``<inputs dir>/<n>/<file name>`` (the runtime's is ``<scratch>/inputs``), so
names never clash and a file keeps the name (suffix) that tells its format; a crypt4gh file
keeps its name without ``.c4gh`` (``x.pgen.c4gh`` is staged as ``x.pgen``). Sources:

- a **local path** is read only under the runtime's input root (``VATTI_INPUT_ROOT``; ``vatti
  run`` uses its working directory), after resolving symbolic links; a clear-text one is
  linked, not copied (it is already on this machine, and may be large);
- a **collection path** or an ``https://`` URL under the collection is downloaded
  (:mod:`vatti.staging.collection`: OAuth2 token, retries, resume by range);
- an ``s3://`` (or ``gs://``) **object** is read in one streaming GET, with the bucket settings
  of the stores (:mod:`vatti.staging.bucket_sources`);
- a **crypt4gh** input (``.c4gh``, or declared encrypted), local or downloaded, is decrypted
  while it is read (:mod:`vatti.staging.decrypt`), with a key from
  :mod:`vatti.staging.secret_keys`: no copy of the cipher text is kept, and the clear text is
  written only here, in the job's scratch.

Before anything is fetched, the scratch's free space is checked against the declared sizes of
what will be written there. A declared size and SHA-256 are those of the bytes at the source
(the ``.c4gh`` file's, as hattivatti declares them) and are verified as they are read: a file
larger than declared fails as soon as it passes its size. A partly written file is removed
whatever stops it. Every failure is one of step ``inputs`` with a stable code
(:class:`~vatti.staging.failures.InputCode`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vatti.domain.inputs import DeclaredInput
from vatti.domain.urls import redact_url
from vatti.pipelines.errors import StepFailed
from vatti.staging.bucket_sources import BUCKET_SCHEMES
from vatti.staging.decrypt import Readable, decrypt_stream
from vatti.staging.errors import CorruptCrypt4gh, WrongKey
from vatti.staging.failures import STEP, InputCode, input_failed
from vatti.staging.retries import RetryPolicy

if TYPE_CHECKING:
    # imported when configured: a job under a small memory limit (RLIMIT_AS) that reads only
    # local files does without httpx and ssl
    from vatti.config import SourceSettings, StoreSettings
    from vatti.staging.collection import Collection
    from vatti.staging.secret_keys import SecretKeys

__all__ = ["STEP", "Sources", "stage_inputs"]

CHUNK = 1 << 20
KNOWN_SCHEMES = ("https://", "s3://", "gs://")


@dataclass
class Sources:
    """What the runtime may read inputs from (:meth:`from_settings` builds it)."""

    input_root: Path | None = None
    collection: Collection | None = None
    keys: SecretKeys | None = None
    #: how ``s3://`` and ``gs://`` inputs are reached (the stores' bucket settings)
    buckets: StoreSettings | None = None
    #: how often each request to a source is attempted
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    _closing: list[contextlib.AbstractContextManager[object]] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls,
        settings: SourceSettings | None,
        input_root: Path | None,
        buckets: StoreSettings | None = None,
    ) -> Sources:
        """The sources the settings configure (call :meth:`close` when done)."""
        sources = cls(input_root=input_root, buckets=buckets)
        if settings is None:
            return sources
        sources.retries = RetryPolicy.from_settings(settings)
        configured = (
            settings.transfer_base_url,
            settings.key_handler_url,
            settings.c4gh_secret_key,
        )
        if all(value is None for value in configured):
            return sources
        from vatti.staging.collection import ClientCredentials, Collection
        from vatti.staging.https import new_client
        from vatti.staging.secret_keys import Crypt4ghKeyFormat, KeyFile, KeyHandler

        policy = sources.retries
        if settings.transfer_base_url is not None:
            client = new_client(policy)
            sources._closing.append(client)
            credentials = None
            if settings.transfer_token_url is not None:
                assert settings.transfer_client_id is not None
                assert settings.transfer_client_secret is not None
                credentials = ClientCredentials(
                    client,
                    settings.transfer_token_url,
                    settings.transfer_client_id,
                    settings.transfer_client_secret,
                    settings.transfer_scope,
                    policy,
                )
            sources.collection = Collection(settings.transfer_base_url, client, policy, credentials)
        if settings.key_handler_url is not None:
            assert settings.key_handler_user is not None
            assert settings.key_handler_password is not None
            sources.keys = KeyHandler(
                settings.key_handler_url,
                settings.key_handler_user,
                settings.key_handler_password,
                Crypt4ghKeyFormat(settings.key_handler_key_password),
                policy,
                lambda: new_client(policy),
            )
        elif settings.c4gh_secret_key is not None:
            sources.keys = KeyFile(
                settings.c4gh_secret_key, Crypt4ghKeyFormat(settings.c4gh_passphrase)
            )
        return sources

    def close(self) -> None:
        if self.keys is not None:
            self.keys.close()
        for resource in self._closing:
            resource.__exit__(None, None, None)
        self._closing.clear()


def local_path(declared: DeclaredInput, input_root: Path | None) -> Path:
    """The real path of a local input under ``input_root``; refuse anything else."""
    value = declared.location
    if input_root is None:
        raise input_failed(
            InputCode.REFUSED,
            f"local input {value!r} refused: this server reads no local files "
            "(set VATTI_INPUT_ROOT to allow a directory)",
        )
    root = input_root.resolve()
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise input_failed(InputCode.REFUSED, f"local input {value!r} lies outside the input root")
    if not path.is_file():
        raise input_failed(InputCode.MISSING, f"input file {value!r} does not exist")
    return path


def _size_mismatch(declared: DeclaredInput, size: int, *, more: bool = False) -> StepFailed:
    has = f"more than {size}" if more else str(size)
    return input_failed(
        InputCode.MISMATCH,
        f"input {declared.location!r} has {has} bytes, {declared.size} were declared",
    )


def _digest_mismatch(declared: DeclaredInput) -> StepFailed:
    return input_failed(
        InputCode.MISMATCH, f"input {declared.location!r} does not match its declared SHA-256"
    )


def verify(declared: DeclaredInput, path: Path) -> None:
    """Check the declared size and SHA-256 of a local file."""
    if declared.size is not None:
        size = path.stat().st_size
        if size != declared.size:
            raise _size_mismatch(declared, size)
    if declared.sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != declared.sha256.lower():
            raise _digest_mismatch(declared)


class VerifyingReader(io.RawIOBase):
    """The bytes of ``source``, checked against the declared size and SHA-256 as they pass.

    More bytes than declared fail at once; fewer, or another digest, when ``source`` ends."""

    def __init__(self, source: Readable, declared: DeclaredInput) -> None:
        super().__init__()
        self._source = source
        self._declared = declared
        self._digest = hashlib.sha256() if declared.sha256 is not None else None
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        got = self._source.readinto(buffer) or 0
        declared = self._declared
        if got == 0:
            if declared.size is not None and self.count != declared.size:
                raise _size_mismatch(declared, self.count)
            if (
                self._digest is not None
                and self._digest.hexdigest() != str(declared.sha256).lower()
            ):
                raise _digest_mismatch(declared)
            return 0
        self.count += got
        if declared.size is not None and self.count > declared.size:
            raise _size_mismatch(declared, declared.size, more=True)
        if self._digest is not None:
            self._digest.update(buffer[:got])
        return got


def _copied(item: DeclaredInput) -> bool:
    """Whether staging writes the input into the scratch (rather than linking it)."""
    return item.is_encrypted or item.scheme is not None or item.from_collection


def ensure_room(needed: int, where: Path) -> None:
    """Fail with ``scratch_full`` when ``needed`` bytes exceed the free space at ``where``."""
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if needed > free:
        raise input_failed(
            InputCode.SCRATCH_FULL,
            f"the inputs need {needed} bytes in the job's scratch, {free} are free",
        )


def check_free_space(declared: Sequence[DeclaredInput], inputs_dir: Path) -> None:
    """:func:`ensure_room` for the declared sizes of what staging writes (a decrypted file is
    smaller than its cipher text)."""
    needed = sum(item.size or 0 for item in declared if _copied(item))
    if needed:
        ensure_room(needed, inputs_dir)


def _write(chunks: Iterator[memoryview | bytes], target: Path) -> None:
    """Write ``chunks`` to ``target`` (via a partial file, removed on any failure)."""
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("xb") as out:
            os.chmod(partial, 0o600)
            for chunk in chunks:
                out.write(chunk)
        partial.rename(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise input_failed(
                InputCode.SCRATCH_FULL, f"the job's scratch filled up while staging {target.name}"
            ) from None
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _plain_chunks(source: io.RawIOBase) -> Iterator[memoryview]:
    view = memoryview(bytearray(CHUNK))
    while got := source.readinto(view):
        yield view[:got]


def _decrypted(source: Readable, key: bytes, item: DeclaredInput) -> Iterator[memoryview]:
    try:
        yield from decrypt_stream(source, [key])
    except WrongKey:
        raise input_failed(
            InputCode.WRONG_KEY,
            f"input {item.location!r} does not open with the secret key (encrypted for another)",
        ) from None
    except CorruptCrypt4gh as exc:
        raise input_failed(
            InputCode.CORRUPT, f"input {item.location!r} is not a valid crypt4gh file: {exc}"
        ) from None


def _open_source(item: DeclaredInput, sources: Sources, target_dir: Path) -> Readable:
    """A reader of the input's bytes at their source."""
    what = (
        f"input {item.location!r}" if item.scheme is None else f"input {redact_url(item.location)}"
    )
    if item.scheme is None and not item.from_collection:
        return local_path(item, sources.input_root).open("rb")
    if item.scheme in BUCKET_SCHEMES:
        from vatti.staging.bucket_sources import open_object

        reader = open_object(item.location, sources.buckets, what, sources.retries)
        _check_length(item, reader, reader.length, target_dir)
        return reader
    if item.scheme not in (None, "https", "http"):
        raise input_failed(
            InputCode.REFUSED,
            f"input {redact_url(item.location)}: {item.scheme}:// sources are not available here "
            f"(inputs are paths under the input root, {', '.join(KNOWN_SCHEMES)} URLs)",
        )
    if sources.collection is None:
        raise input_failed(
            InputCode.REFUSED,
            f"{what} is on the transfer collection, but none is configured "
            "(set VATTI_TRANSFER_BASE_URL)",
        )
    download = sources.collection.open(sources.collection.url_of(item), what)
    _check_length(item, download, download.length, target_dir)
    return download


def _check_length(
    item: DeclaredInput, reader: io.RawIOBase, length: int | None, target_dir: Path
) -> None:
    """Before the first byte: the length the source tells is the declared size, and (without a
    declared size) fits in the scratch; the reader is closed when not."""
    try:
        if item.size is not None and length is not None and length != item.size:
            raise _size_mismatch(item, length)
        if item.size is None and length is not None:
            ensure_room(length, target_dir)
    except StepFailed:
        reader.close()
        raise


def stage_one(item: DeclaredInput, target_dir: Path, sources: Sources) -> Path:
    """Stage one input into ``target_dir``; its local path."""
    target_dir.mkdir(parents=True, mode=0o700)
    if not _copied(item):
        source = local_path(item, sources.input_root)
        verify(item, source)
        target = target_dir / source.name
        os.symlink(source, target)
        return target
    key = None
    if item.is_encrypted:
        if sources.keys is None:
            raise input_failed(
                InputCode.KEY_UNAVAILABLE,
                f"input {item.location!r} is encrypted, but this runtime has no crypt4gh secret "
                "key (set VATTI_KEY_HANDLER_URL or VATTI_C4GH_SECRET_KEY)",
            )
        key = sources.keys.secret_key(item.key_ref, f"input {item.location!r}")
    target = target_dir / item.staged_name
    raw = _open_source(item, sources, target_dir)
    with contextlib.closing(raw):
        checked = VerifyingReader(raw, item)
        if key is None:
            _write(_plain_chunks(checked), target)
        else:
            _write(_decrypted(checked, key, item), target)
    return target


def stage_inputs(
    declared: Sequence[DeclaredInput], inputs_dir: Path, sources: Sources
) -> dict[str, Path]:
    """Stage every input into ``inputs_dir``; the local path of each, by key."""
    keys = [d.key for d in declared]
    if len(set(keys)) != len(keys):
        raise ValueError("declared input keys must be unique")
    check_free_space(declared, inputs_dir)
    staged: dict[str, Path] = {}
    for index, item in enumerate(declared):
        staged[item.key] = stage_one(item, inputs_dir / str(index), sources)
    return staged
