"""Local stand-ins for the services a job's inputs come from, on one loopback HTTP server.

- ``POST /oauth/token``: an OAuth2 token endpoint (client credentials as HTTP Basic);
- ``GET /collection/<path>``: the transfer collection (bearer tokens from the endpoint above,
  byte ranges, and faults on demand: 503s, connections broken mid-body, redirects);
- ``GET /keys/key/<secretId>/version/<version>``: the key handler (HTTP Basic), answering
  ``{"privateKey": ...}``.

Plain ``http://`` on ``127.0.0.1`` (the runtime accepts it with ``VATTI_ALLOW_HTTP_LOOPBACK``).
Tests start one :class:`StandIns` per session and :meth:`StandIns.reset` it before each test;
what the server does and saw lives in :attr:`StandIns.state`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT_ID = "vatti-runner"
CLIENT_SECRET = "client-s3cret-9f2c"  # noqa: S105 (a test credential)
KEY_USER = "vatti"
KEY_PASSWORD = "basic-s3cret-77ad"  # noqa: S105
#: the password the key handler's private keys are wrapped with
KEY_WRAP_PASSWORD = "wrap-s3cret-41be"  # noqa: S105
_RANGE = re.compile(r"^bytes=(\d+)-$")
#: the longest an answer is held (:attr:`State.hold_after`) when the test never releases it
HOLD_LIMIT_S = 120.0


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    service: str  # "token", "collection" or "keys"
    method: str
    path: str
    host: str
    range: str | None
    authorization: str | None


@dataclass
class State:
    #: collection files by path (without the leading /collection/)
    files: dict[str, bytes] = field(default_factory=dict)
    #: wrapped private keys by (secret id, version)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)
    ranges: bool = True
    #: path -> bytes sent before the connection breaks (once per entry)
    break_after: dict[str, int] = field(default_factory=dict)
    #: the next N collection requests answer 503
    unavailable: int = 0
    #: path -> Location of a 302
    redirects: dict[str, str] = field(default_factory=dict)
    #: the token endpoint / key handler / collection answer this status instead
    token_status: int | None = None
    key_status: int | None = None
    collection_status: int | None = None
    token_lifetime_s: int = 3600
    #: after this many files served, every token issued so far expires
    expire_after: int | None = None
    #: path -> bytes sent before the answer holds until :attr:`release` is set (a job paused
    #: mid-download, e.g. to cancel or kill it there); :attr:`held` is set when it holds
    hold_after: dict[str, int] = field(default_factory=dict)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as an expired one would)."""
        self.tokens.clear()

    def requests(self, service: str) -> list[Seen]:
        return [s for s in self.seen if s.service == service]


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, service: str) -> None:
        self.server.owner.state.seen.append(
            Seen(
                service,
                self.command,
                urlsplit(self.path).path,
                self.headers.get("Host", ""),
                self.headers.get("Range"),
                self.headers.get("Authorization"),
            )
        )

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: object) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        state = self.server.owner.state
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if urlsplit(self.path).path != "/oauth/token":
            self._send(404)
            return
        self._record("token")
        if state.token_status is not None:
            self._json(state.token_status, {"error": "server_error"})
            return
        if _basic(self.headers.get("Authorization")) != (CLIENT_ID, CLIENT_SECRET):
            self._json(401, {"error": "invalid_client"})
            return
        if form.get("grant_type") != ["client_credentials"]:
            self._json(400, {"error": "unsupported_grant_type"})
            return
        token = secrets.token_urlsafe(24)
        state.tokens.add(token)
        state.issued.append(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": state.token_lifetime_s}
        self._json(200, body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/collection/"):
            self._collection(unquote(path.removeprefix("/collection/")))
        elif path.startswith("/keys/"):
            self._key(path.removeprefix("/keys/"))
        else:
            self._send(404)

    def _collection(self, name: str) -> None:
        state = self.server.owner.state
        self._record("collection")
        if state.unavailable > 0:
            state.unavailable -= 1
            self._send(503)
            return
        if state.collection_status is not None:
            self._send(state.collection_status)
            return
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in state.tokens:
            self._send(401, headers={"WWW-Authenticate": "Bearer"})
            return
        if name in state.redirects:
            self._send(302, headers={"Location": state.redirects.pop(name)})
            return
        data = state.files.get(name)
        if data is None:
            self._send(404)
            return
        start, status, headers = 0, 200, {}
        match = _RANGE.match(self.headers.get("Range", ""))
        if match and state.ranges:
            start, status = int(match.group(1)), 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if state.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        hold = state.hold_after.pop(name, None)
        if hold is not None:
            self.wfile.write(body[:hold])
            self.wfile.flush()
            state.held.set()
            state.release.wait(HOLD_LIMIT_S)
            body = body[hold:]
        cut = state.break_after.pop(name, None)
        if cut is None:
            self.wfile.write(body)
            if state.expire_after is not None:
                state.expire_after -= 1
                if state.expire_after == 0:
                    state.expire_tokens()
            return
        self.wfile.write(body[:cut])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _key(self, rest: str) -> None:
        state = self.server.owner.state
        self._record("keys")
        parts = rest.split("/")
        if len(parts) != 4 or parts[0] != "key" or parts[2] != "version":
            self._send(404)
            return
        if state.key_status is not None:
            self._json(state.key_status, {"error": "stand-in says so"})
            return
        if _basic(self.headers.get("Authorization")) != (KEY_USER, KEY_PASSWORD):
            self._json(401, {"error": "unauthorized"})
            return
        wrapped = state.keys.get((unquote(parts[1]), unquote(parts[3])))
        if wrapped is None:
            self._json(404, {"error": "no such key"})
            return
        self._json(200, {"privateKey": wrapped})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: StandIns

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections the tests break on purpose are no error to print."""


class StandIns:
    """The stand-in server (see the module documentation); :meth:`close` stops it."""

    def __init__(self) -> None:
        self.state = State()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def collection_url(self) -> str:
        return f"{self.url}/collection/"

    def reset(self) -> State:
        self.state.release.set()  # an answer still held by the last test ends
        self.state = State()
        return self.state

    def put_encrypted(
        self, directory: str, files: Mapping[str, bytes], public_key: bytes
    ) -> list[dict[str, Any]]:
        """Put each file on the collection under ``directory`` as ``NAME.c4gh``, encrypted for
        ``public_key``; the ``files`` entries of their ``globus_details`` (name and size)."""
        from vatti.testing.c4gh import encrypt

        entries: list[dict[str, Any]] = []
        for name, data in files.items():
            sealed = encrypt(data, [public_key])
            self.state.files[f"{directory}/{name}.c4gh"] = sealed
            entries.append({"filename": f"{name}.c4gh", "size": len(sealed)})
        return entries

    def env(self, **overrides: str) -> dict[str, str]:
        """The ``VATTI_*`` settings of a runtime that reads from these stand-ins."""
        env = {
            "VATTI_TRANSFER_BASE_URL": self.collection_url,
            "VATTI_TRANSFER_TOKEN_URL": f"{self.url}/oauth/token",
            "VATTI_TRANSFER_CLIENT_ID": CLIENT_ID,
            "VATTI_TRANSFER_CLIENT_SECRET": CLIENT_SECRET,
            "VATTI_TRANSFER_SCOPE": "https://auth.globus.org/scopes/collection/data_access",
            "VATTI_TRANSFER_RETRIES": "3",
            "VATTI_TRANSFER_RETRY_DELAY": "0.01",
            "VATTI_TRANSFER_TIMEOUT": "10",
            "VATTI_KEY_HANDLER_URL": f"{self.url}/keys",
            "VATTI_KEY_HANDLER_USER": KEY_USER,
            "VATTI_KEY_HANDLER_PASSWORD": KEY_PASSWORD,
            "VATTI_KEY_HANDLER_KEY_PASSWORD": KEY_WRAP_PASSWORD,
            "VATTI_ALLOW_HTTP_LOOPBACK": "1",
        }
        env.update(overrides)
        return env

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


#: every credential of the stand-ins: none may appear in a log or a message
SECRETS = (CLIENT_SECRET, KEY_PASSWORD, KEY_WRAP_PASSWORD)
