"""The crypt4gh secret keys of a job's encrypted inputs: from a key file or the key handler.

Keys are held in memory only, for the time the inputs are staged (:meth:`SecretKeys.close`
forgets them); they are never logged, written or put into an error message.

**Unwrapping.** The key handler (``GET {VATTI_KEY_HANDLER_URL}/key/{secretId}/version/{version}``,
HTTP Basic auth) answers ``{"privateKey": "..."}``: the private key wrapped with a password the
runner holds (``VATTI_KEY_HANDLER_KEY_PASSWORD``). Unwrapping is the :class:`KeyUnwrapping`
protocol; the built-in scheme, :class:`Crypt4ghKeyFormat`, is crypt4gh's own passphrase-protected
private key format (``crypt4gh-keygen``'s ``c4gh-v1`` keys, as PEM text or its base64 body), the
same one a key file (``VATTI_C4GH_SECRET_KEY``) uses. Another wrapping (say, a KMS envelope) is
one class with an ``unwrap(text) -> bytes`` method, passed to :class:`KeyHandler`.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from pydantic import SecretStr

from vatti.domain.inputs import KeyRef
from vatti.domain.urls import redact_url
from vatti.pipelines.errors import StepFailed
from vatti.staging.decrypt import quiet_library
from vatti.staging.failures import InputCode, input_failed

if TYPE_CHECKING:
    # imported when a key handler is configured: a key file needs neither httpx nor ssl
    import httpx

    from vatti.staging.retries import RetryPolicy

MAGIC = b"c4gh-v1"
KEY_SIZE = 32


class KeyUnwrapping(Protocol):
    """Turns a wrapped private key into the 32-byte X25519 secret key.

    Raises ValueError (with a message that quotes nothing of the key) when it cannot."""

    def unwrap(self, wrapped: str) -> bytes: ...


def _field(stream: io.BytesIO) -> bytes:
    length = int.from_bytes(stream.read(2), "big")
    data = stream.read(length)
    if len(data) != length:
        raise ValueError("the key is cut short")
    return data


def _pem_body(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("-----BEGIN "):
        if not lines[-1].startswith("-----END "):
            raise ValueError("the key's PEM text has no END line")
        lines = lines[1:-1]
    try:
        return base64.b64decode("".join(lines), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not base64 (PEM) text") from None


class Crypt4ghKeyFormat:
    """crypt4gh's private key format: ``c4gh-v1``, a KDF (scrypt, bcrypt or PBKDF2) and
    ChaCha20-Poly1305 under ``passphrase``, or no protection at all."""

    def __init__(self, passphrase: SecretStr | None) -> None:
        self._passphrase = passphrase

    def __repr__(self) -> str:
        return "Crypt4ghKeyFormat(passphrase=***)"

    def unwrap(self, wrapped: str) -> bytes:
        from crypt4gh import sodium
        from crypt4gh.keys.kdf import derive_key

        quiet_library()
        stream = io.BytesIO(_pem_body(wrapped))
        if stream.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a crypt4gh private key (c4gh-v1)")
        kdf = _field(stream)
        rounds, salt = 0, b""
        if kdf != b"none":
            options = _field(stream)
            rounds, salt = int.from_bytes(options[:4], "big"), options[4:]
        cipher = _field(stream)
        private = _field(stream)
        if cipher == b"none":
            key = private
        elif cipher == b"chacha20_poly1305":
            if self._passphrase is None:
                raise ValueError("the private key is locked and no passphrase is set")
            try:
                shared = derive_key(kdf, self._passphrase.get_secret_value().encode(), salt, rounds)
            except (ValueError, NotImplementedError):
                raise ValueError("the private key uses an unsupported key derivation") from None
            out = bytearray(max(len(private), KEY_SIZE))
            try:
                length = sodium.chacha20poly1305_decrypt(out, private, shared)
            except (ValueError, AssertionError):
                raise ValueError("the private key does not open with this password") from None
            key = bytes(out[:length])
        else:
            raise ValueError("the private key uses an unsupported cipher")
        if len(key) != KEY_SIZE:
            raise ValueError("the private key is not a 32-byte X25519 key")
        return key


class SecretKeys(Protocol):
    """Where the secret key of an encrypted input comes from."""

    def secret_key(self, ref: KeyRef | None, what: str) -> bytes:
        """The key ``ref`` names (or the one key); a :class:`StepFailed` naming ``what``."""
        ...

    def close(self) -> None:
        """Forget the keys held."""
        ...


class KeyFile:
    """One secret key from a crypt4gh key file (the same key for every input)."""

    def __init__(self, path: Path, unwrapping: KeyUnwrapping) -> None:
        self.path = path
        self._unwrapping = unwrapping
        self._key: bytes | None = None

    def secret_key(self, ref: KeyRef | None, what: str) -> bytes:
        del ref
        if self._key is None:
            try:
                text = self.path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
                raise input_failed(
                    InputCode.KEY_UNAVAILABLE,
                    f"{what}: cannot read the crypt4gh secret key file {self.path}: {reason}",
                ) from None
            try:
                self._key = self._unwrapping.unwrap(text)
            except ValueError as exc:
                raise input_failed(
                    InputCode.KEY_INVALID, f"{what}: the secret key file {self.path}: {exc}"
                ) from None
        return self._key

    def close(self) -> None:
        self._key = None


class KeyHandler:
    """Secret keys by id and version from the key handler service (HTTP Basic auth)."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: SecretStr,
        unwrapping: KeyUnwrapping,
        policy: RetryPolicy,
        client: Callable[[], httpx.Client],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        import httpx

        self._auth = httpx.BasicAuth(user, password.get_secret_value())
        self._unwrapping = unwrapping
        self._policy = policy
        self._client_factory = client
        self._client: httpx.Client | None = None
        self._keys: dict[KeyRef, bytes] = {}

    def __repr__(self) -> str:
        return f"KeyHandler({redact_url(self.base_url)!r})"

    def url_of(self, ref: KeyRef) -> str:
        secret_id, version = quote(ref.secret_id, safe=""), quote(ref.version, safe="")
        return f"{self.base_url}/key/{secret_id}/version/{version}"

    def secret_key(self, ref: KeyRef | None, what: str) -> bytes:
        if ref is None:
            raise input_failed(
                InputCode.KEY_UNAVAILABLE,
                f"{what} is encrypted, but the job names no secret key (secret_key_details)",
            )
        if ref not in self._keys:
            self._keys[ref] = self._fetch(ref, what)
        return self._keys[ref]

    def _fetch(self, ref: KeyRef, what: str) -> bytes:

        from vatti.staging.https import GaveUp, RedirectRefused, retrying, send

        if self._client is None:
            self._client = self._client_factory()
        client = self._client
        url = self.url_of(ref)
        named = f"secret key {ref.secret_id} version {ref.version}"

        def get() -> httpx.Response:
            response = send(
                client, "GET", url, auth=self._auth, headers={"Accept": "application/json"}
            )
            response.read()
            return response

        try:
            response = retrying(get, self._policy)
        except GaveUp as exc:
            raise self._failed(InputCode.KEY_HANDLER_FAILED, what, f"{exc}") from None
        except RedirectRefused as exc:
            raise self._failed(InputCode.KEY_HANDLER_FAILED, what, str(exc)) from None
        status = response.status_code
        if status in (401, 403):
            raise self._failed(
                InputCode.KEY_UNAUTHORIZED,
                what,
                f"the key handler refused its credentials (HTTP {status})",
            )
        if status == 404:
            raise self._failed(InputCode.KEY_NOT_FOUND, what, f"the key handler has no {named}")
        if status != 200:
            raise self._failed(
                InputCode.KEY_HANDLER_FAILED, what, f"the key handler answered HTTP {status}"
            )
        try:
            wrapped = response.json().get("privateKey")
        except (ValueError, AttributeError):
            wrapped = None
        if not isinstance(wrapped, str) or not wrapped:
            raise self._failed(
                InputCode.KEY_HANDLER_FAILED, what, "the key handler's answer holds no privateKey"
            )
        try:
            return self._unwrapping.unwrap(wrapped)
        except ValueError as exc:
            raise self._failed(InputCode.KEY_INVALID, what, f"the {named}: {exc}") from None

    def _failed(self, code: InputCode, what: str, reason: str) -> StepFailed:
        return input_failed(
            code, f"{what}: cannot get its secret key from {redact_url(self.base_url)}: {reason}"
        )

    def close(self) -> None:
        self._keys.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
