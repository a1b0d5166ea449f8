"""A small OpenID provider stand-in on loopback, for the dashboard's sign-in tests.

One Starlette app served by uvicorn in a thread, with what an authorization code flow needs:

- ``GET /.well-known/openid-configuration``: discovery;
- ``GET /authorize``: no login form: the user of :attr:`ProviderState.user` "signs in" at once,
  and the answer is the redirect back with a code (PKCE S256 required);
- ``POST /token``: the code for tokens (client secret as HTTP Basic, the PKCE verifier checked,
  each code used once), the ID token signed RS256;
- ``GET /jwks``: the public key.

Keys are made per :class:`OidcProvider` (one per test session). The test makes the provider
misbehave through :attr:`OidcProvider.state` (a token for another audience, signed by another
key, expired, with another nonce or issuer) and :meth:`OidcProvider.reset` puts it right.
The signing is written here with ``cryptography`` alone, so the library under test (authlib)
is not checking its own output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "vatti-dashboard"
CLIENT_SECRET = "oidc-client-s3cret-5e1a"  # noqa: S105 (a test credential)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    kid: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


@dataclass
class Grant:
    """An authorization code issued and not yet used."""

    redirect_uri: str
    code_challenge: str
    nonce: str | None
    claims: dict[str, Any]


@dataclass
class ProviderState:
    #: the claims of the user who signs in next (``sub`` and the rest)
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "ada"})
    #: faults in the next ID tokens: None keeps the right value
    audience: str | None = None
    issuer: str | None = None
    nonce: str | None = None
    #: seconds until the ID token expires (negative: already expired)
    lifetime_s: int = 300
    #: sign with a key that is not in the JWKS (under the published key's id)
    foreign_key: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    #: what the token endpoint answered with an error, in order
    token_errors: list[str] = field(default_factory=list)


class OidcProvider:
    """The stand-in, serving on ``127.0.0.1`` from :meth:`start` to :meth:`stop`."""

    def __init__(self, redirect_uris: tuple[str, ...] = ()) -> None:
        self.redirect_uris = set(redirect_uris)
        self.key = SigningKey(kid="k1")
        self.other_key = SigningKey(kid="other")
        self.state = ProviderState()
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.state = ProviderState()

    # -- the app ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/jwks", self._jwks),
            ]
        )

    async def _discovery(self, _request: Request) -> Response:
        base = self.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk()]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "why": "PKCE"}, status_code=400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.state.grants[code] = Grant(
                redirect_uri, q["code_challenge"], q.get("nonce"), dict(self.state.user)
            )
        back = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    def _token_error(self, error: str, status: int = 400) -> Response:
        self.state.token_errors.append(error)
        return JSONResponse({"error": error}, status_code=status)

    async def _token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not secrets.compare_digest(request.headers.get("authorization", ""), expected):
            return self._token_error("invalid_client", 401)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        code, verifier = form.get("code", ""), form.get("code_verifier", "")
        with self._lock:
            grant = self.state.grants.pop(code, None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._token_error("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._token_error("invalid_grant")
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        if not verifier or not secrets.compare_digest(challenge, grant.code_challenge):
            return self._token_error("invalid_grant")
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            },
            headers={"cache-control": "no-store"},
        )

    def id_token(self, grant: Grant) -> str:
        s = self.state
        now = int(time.time())
        claims = {
            **grant.claims,
            "iss": s.issuer or self.issuer,
            "aud": s.audience or CLIENT_ID,
            "iat": now,
            "exp": now + s.lifetime_s,
            **({"nonce": s.nonce or grant.nonce} if (s.nonce or grant.nonce) else {}),
        }
        if s.foreign_key:  # under the published key's id
            return self.other_key.sign(claims, kid=self.key.kid)
        return self.key.sign(claims)

    def rotate_key(self) -> None:
        """Sign with a new key (a new id), published in place of the old one."""
        serial = int(self.key.kid.removeprefix("k")) + 1
        self.key = SigningKey(kid=f"k{serial}")

    # -- serving ---------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", ws="none", access_log=False
        )
        ready = threading.Event()

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                ready.set()

        self._server = Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the OIDC provider stand-in did not start")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
