"""The transfer collection: inputs fetched over HTTPS with an OAuth2 client-credentials token.

This is the Globus pattern hattivatti uses: a token from ``VATTI_TRANSFER_TOKEN_URL`` (client id
and secret as HTTP Basic, ``grant_type=client_credentials``, ``VATTI_TRANSFER_SCOPE``), then
``GET {VATTI_TRANSFER_BASE_URL}/{dir_path_on_guest_collection}/{filename}`` with
``Authorization: Bearer``. The token is kept in memory until shortly before it expires, and
fetched again once when the collection answers 401.

A download is a :class:`Download`, a raw reader: when the connection breaks or stalls it
reconnects (retries with backoff) and resumes with ``Range: bytes=N-``; a server that ignores
ranges answers 200 and the bytes already read are skipped. Either way its reader sees each byte
once, in order, so decryption and checksums run in one pass. Redirects are followed only on the
collection's own origin; ``https://`` inputs must lie under the collection's base URL, so the
token is never sent anywhere else.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from vatti.domain.inputs import DeclaredInput
from vatti.domain.urls import redact_url
from vatti.pipelines.errors import StepFailed
from vatti.staging.failures import InputCode, input_failed
from vatti.staging.https import (
    GaveUp,
    RedirectRefused,
    Transient,
    describe,
    origin,
    retrying,
    send,
)
from vatti.staging.retries import RetryPolicy

CHUNK = 1 << 20
#: a token is fetched again this long before it expires
TOKEN_MARGIN_S = 30.0
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class ClientCredentials:
    """Bearer tokens from an OAuth2 token endpoint (client credentials grant)."""

    def __init__(
        self,
        client: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.token_url = token_url
        self._auth = httpx.BasicAuth(client_id, client_secret.get_secret_value())
        self._scope = scope
        self._policy = policy
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentials({redact_url(self.token_url)!r})"

    def token(self) -> str:
        if self._token is None or self._clock() >= self._expires:
            self._token, lifetime = self._fetch()
            self._expires = self._clock() + max(lifetime - TOKEN_MARGIN_S, 0.0)
        return self._token

    def forget(self) -> None:
        """Drop the token held (the collection refused it: it may have expired early)."""
        self._token = None

    def _fetch(self) -> tuple[str, float]:
        where = redact_url(self.token_url)
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope

        def post() -> httpx.Response:
            response = send(self._client, "POST", self.token_url, auth=self._auth, data=form)
            response.read()
            return response

        try:
            response = retrying(post, self._policy)
        except GaveUp as exc:
            raise input_failed(
                InputCode.UNREACHABLE, f"the token endpoint {where} cannot be reached: {exc}"
            ) from None
        except RedirectRefused as exc:
            raise input_failed(InputCode.TOKEN_REFUSED, f"token endpoint: {exc}") from None
        if response.status_code != 200:
            raise input_failed(
                InputCode.TOKEN_REFUSED,
                f"the token endpoint {where} refused the client credentials "
                f"(HTTP {response.status_code})",
            )
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise input_failed(
                InputCode.TOKEN_REFUSED, f"the token endpoint {where} answered without a token"
            )
        return token, lifetime


class Collection:
    """The HTTPS collection inputs are read from."""

    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        policy: RetryPolicy,
        credentials: ClientCredentials | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._client = client
        self._policy = policy
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"Collection({redact_url(self.base_url)!r})"

    def url_of(self, declared: DeclaredInput) -> str:
        """The URL of a collection path or an ``https://`` input; refuse one off the collection."""
        if declared.from_collection:
            parts = declared.location.split("/")
            return self.base_url + "/".join(quote(p, safe="@") for p in parts)
        url = declared.location
        base = urlsplit(self.base_url)
        if origin(url) != origin(self.base_url) or not urlsplit(url).path.startswith(base.path):
            raise input_failed(
                InputCode.REFUSED,
                f"input {redact_url(url)} is not on the transfer collection "
                f"({redact_url(self.base_url)}): only its files are read",
            )
        return url

    def open(self, url: str, what: str) -> Download:
        """The bytes at ``url``; fails (a :class:`StepFailed`) before the first when it cannot."""
        download = Download(self, url, what)
        download.connect()
        return download

    def _headers(self, position: int) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        if self._credentials is not None:
            headers["Authorization"] = f"Bearer {self._credentials.token()}"
        if position:
            headers["Range"] = f"bytes={position}-"
        return headers

    def _get(self, url: str, position: int, what: str) -> httpx.Response:
        """A streamed GET from ``position`` that answered 200 or 206 (the caller closes it)."""
        refreshed = False
        while True:
            try:
                response = retrying(
                    lambda: send(
                        self._client, "GET", url, headers=self._headers(position), stream=True
                    ),
                    self._policy,
                )
            except GaveUp as exc:
                raise input_failed(
                    InputCode.UNREACHABLE, f"{what}: the collection cannot be reached: {exc}"
                ) from None
            except RedirectRefused as exc:
                raise input_failed(InputCode.REFUSED, f"{what}: {exc}") from None
            status = response.status_code
            if status in (200, 206):
                return response
            response.close()
            if status == 401 and self._credentials is not None and not refreshed:
                self._credentials.forget()
                refreshed = True
                continue
            raise self._refusal(status, what)

    @staticmethod
    def _refusal(status: int, what: str) -> StepFailed:
        if status in (401, 403):
            return input_failed(
                InputCode.UNAUTHORIZED, f"{what}: the collection refused access (HTTP {status})"
            )
        if status in (404, 410):
            return input_failed(InputCode.MISSING, f"{what}: no such file on the collection")
        return input_failed(InputCode.UNREACHABLE, f"{what}: the collection answered HTTP {status}")


class Download(io.RawIOBase):
    """The bytes of one collection file, resumed by range after a broken connection."""

    def __init__(self, collection: Collection, url: str, what: str) -> None:
        super().__init__()
        self._collection = collection
        self.url = url
        self.what = what
        self.position = 0
        #: the file's size as the server tells it (Content-Length or Content-Range), if it does
        self.length: int | None = None
        self.resumed = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] = iter(())
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def connect(self) -> None:
        """(Re)open the response at :attr:`position`."""
        self._drop()
        response = self._collection._get(self.url, self.position, self.what)
        self._response = response
        skip = 0
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match.group(1)) != self.position:
                response.close()
                raise input_failed(
                    InputCode.UNREACHABLE, f"{self.what}: the collection answered a wrong range"
                )
            if match.group(3) != "*":
                self.length = int(match.group(3))
        else:
            skip = self.position  # no range support: read past what was read before
            length = response.headers.get("content-length")
            if length is not None and length.isdigit():
                self.length = int(length)
        self._chunks = response.iter_raw()  # as received: a chunk size would hold bytes back
        while skip:
            chunk = next(self._chunks, b"")
            if not chunk:
                raise Transient("the connection ended before the resume position")
            self._pending = memoryview(chunk)[skip:]
            skip -= min(skip, len(chunk))

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        self._pending = memoryview(b"")

    def _next_chunk(self) -> memoryview:
        while True:
            try:
                chunk = next(self._chunks, b"")
            except (httpx.TransportError, Transient) as exc:
                reason = describe(exc) if isinstance(exc, httpx.HTTPError) else exc.reason
            else:
                if chunk or self.length is None or self.position >= self.length:
                    return memoryview(chunk)
                reason = "the connection ended early"
            self._resume(reason)
            if self._pending:  # what was left of a chunk read past the resume position
                return self._pending

    def _resume(self, reason: str) -> None:
        del reason  # the retries below report their own last reason
        self.resumed += 1
        try:
            retrying(self.connect, self._collection._policy)
        except GaveUp as exc:
            raise input_failed(
                InputCode.UNREACHABLE,
                f"{self.what}: the download broke off and resuming failed: {exc}",
            ) from None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            self._pending = self._next_chunk()
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.position += n
        return n

    def close(self) -> None:
        self._drop()
        super().close()
