"""The OpenID Connect relying party: discovery, the authorization request, the code exchange and
the ID token's verification.

The protocol's parameters are authlib's (the authorization URL, the token request, PKCE's S256
challenge); the ID token is verified with joserfc (authlib's JOSE library): its signature
against the provider's JWKS (asymmetric algorithms only, never ``none`` or a shared secret),
its issuer, audience (and ``azp`` when there are several), expiry, issue time and nonce. HTTP
goes through httpx, to the issuer's host and the endpoints its discovery document names (https,
or http on loopback), with a timeout and without following redirects. Both libraries are the
``vatti[oidc]`` extra, imported when a sign-in starts.

The discovery document and the JWKS are kept after the first sign-in; the JWKS is read again
when a token names a key it lacks (the provider rotated its keys).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from vatti.config import OidcSettings, is_loopback
from vatti.domain.claims import ClaimMapping
from vatti.errors import ConfigError, VattiError

log = logging.getLogger("vatti.oidc")

#: the ID token signatures accepted (what discovery offers among them); RS256 is OIDC's default
ASYMMETRIC_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
)  # fmt: skip
#: how far the clocks of vatti and the provider may differ
CLOCK_LEEWAY_S: Final = 60
HTTP_TIMEOUT_S: Final = 10.0
#: what a subject may be (OpenID Connect: at most 255 ASCII characters): printable, no spaces
_SUBJECT: Final = re.compile(r"[!-~]{1,255}")
#: a public client authenticates with its client id in the token request alone
_NO_AUTH: Final = httpx.Auth()


class OidcError(VattiError):
    """A sign-in that cannot complete (the message is safe to show the user)."""

    code = "oidc_failed"


class ProviderUnavailable(OidcError):
    """The provider could not be reached or answered out of the protocol."""

    code = "oidc_provider_unavailable"
    transient = True


class TokenRejected(OidcError):
    """The provider refused the code, or its ID token does not verify."""

    code = "oidc_token_rejected"


def _require_oidc() -> None:
    try:
        import authlib  # noqa: F401
        import joserfc  # noqa: F401
    except ImportError:
        raise ConfigError(
            "OpenID Connect sign-in needs the oidc extra: pip install 'vatti[oidc]'"
        ) from None


@dataclass(frozen=True)
class OidcConfig:
    """The relying party's settings, in plain values (from :class:`vatti.config.OidcSettings`)."""

    issuer: str
    client_id: str
    redirect_url: str
    mapping: ClaimMapping
    scopes: str = "openid"
    client_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: OidcSettings | None) -> OidcConfig | None:
        """None when OIDC sign-in is off (no issuer)."""
        if settings is None or settings.oidc_issuer is None:
            return None
        assert settings.oidc_client_id is not None, "checked by OidcSettings.problems"
        assert settings.oidc_redirect_url is not None
        assert settings.oidc_scope_map is not None
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            redirect_url=settings.oidc_redirect_url,
            scopes=settings.oidc_scopes,
            client_secret=None if secret is None else secret.get_secret_value(),
            mapping=ClaimMapping.parse(
                settings.oidc_scopes_claim,
                settings.oidc_scope_map,
                tenant_claim=settings.oidc_tenant_claim,
                default_tenant=settings.oidc_default_tenant,
            ),
        )

    @property
    def cookie_path(self) -> str:
        """The folder of the callback (where the browser sends the pending sign-in back).

        >>> OidcConfig("https://id", "c", "https://v.example/dashboard/oidc/callback",
        ...            ClaimMapping("groups")).cookie_path
        '/dashboard/oidc/'
        """
        return urlsplit(self.redirect_url).path.rpartition("/")[0] + "/"

    @property
    def secure_cookies(self) -> bool:
        """Whether the browser reaches vatti over HTTPS (the redirect URL says)."""
        return self.redirect_url.startswith("https://")


def _endpoint_allowed(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


@dataclass(frozen=True)
class ProviderMetadata:
    """What vatti uses of the provider's discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]

    @classmethod
    def from_document(cls, issuer: str, doc: Mapping[str, Any]) -> ProviderMetadata:
        """The document's endpoints; :class:`ProviderUnavailable` when it is not the issuer's
        (OpenID Connect Discovery 1.0, section 4.3) or lacks one.

        >>> ProviderMetadata.from_document("https://id.example", {"issuer": "https://evil"})
        Traceback (most recent call last):
        ...
        vatti.oidc.client.ProviderUnavailable: the discovery document names another issuer
        """
        if doc.get("issuer", "").rstrip("/") != issuer:
            raise ProviderUnavailable("the discovery document names another issuer")
        names = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        bad = [n for n in names if not _endpoint_allowed(doc.get(n))]
        if bad:
            raise ProviderUnavailable(
                f"the provider's discovery document has no https {', '.join(bad)}"
            )
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderUnavailable("the provider does not support PKCE with S256")
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in ASYMMETRIC_ALGORITHMS if a in offered)
        if not algorithms:
            raise ProviderUnavailable("the provider signs ID tokens with no asymmetric algorithm")
        authorize, token, jwks = (str(doc[n]) for n in names)
        return cls(authorize, token, jwks, algorithms)


@dataclass(frozen=True)
class Authorization:
    """A started sign-in: where to send the browser, and what the callback must match."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """A verified ID token's claims."""

    subject: str
    claims: Mapping[str, Any]


class OidcClient:
    """One relying party (per app); the metadata and keys it read are shared by its requests."""

    def __init__(
        self, config: OidcConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        _require_oidc()
        self.config = config
        self._transport = transport
        self._metadata: ProviderMetadata | None = None
        self._jwks: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=HTTP_TIMEOUT_S, follow_redirects=False, transport=self._transport
        )

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                answer = await http.get(url, headers={"accept": "application/json"})
            answer.raise_for_status()
            doc = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the provider's {what} could not be read ({type(exc).__name__})"
            ) from None
        if not isinstance(doc, dict):
            raise ProviderUnavailable(f"the provider's {what} is not a JSON object")
        return doc

    async def metadata(self) -> ProviderMetadata:
        async with self._lock:
            if self._metadata is None:
                url = f"{self.config.issuer}/.well-known/openid-configuration"
                doc = await self._get_json(url, "discovery document")
                self._metadata = ProviderMetadata.from_document(self.config.issuer, doc)
            return self._metadata

    async def authorization(self) -> Authorization:
        """A new authorization request: fresh state, nonce and PKCE verifier (S256)."""
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        url = prepare_grant_uri(
            meta.authorization_endpoint,
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_url,
            scope=self.config.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return Authorization(str(url), state, nonce, verifier)

    async def exchange(self, code: str, *, code_verifier: str) -> str:
        """The ID token the provider gives for ``code``; :class:`TokenRejected` when it refuses."""
        from authlib.oauth2.rfc6749.parameters import prepare_token_request

        meta = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=self.config.redirect_url,
            code=code,
            code_verifier=code_verifier,
            **({} if self.config.client_secret else {"client_id": self.config.client_id}),
        )
        secret = self.config.client_secret
        auth: httpx.Auth = httpx.BasicAuth(self.config.client_id, secret) if secret else _NO_AUTH
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        try:
            async with self._http() as http:
                answer = await http.post(
                    meta.token_endpoint, content=body, headers=headers, auth=auth
                )
            doc = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the provider's token endpoint could not be read ({type(exc).__name__})"
            ) from None
        if answer.status_code != 200 or not isinstance(doc, dict):
            error = doc.get("error") if isinstance(doc, dict) else None
            reason = error if isinstance(error, str) and error.isidentifier() else "an error"
            raise TokenRejected(f"the provider refused the sign-in's code ({reason})")
        id_token = doc.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRejected("the provider answered without an ID token")
        return id_token

    async def _key_set(self, *, refresh: bool) -> Any:
        from joserfc.jwk import KeySet

        async with self._lock:
            if self._jwks is None or refresh:
                meta = self._metadata
                assert meta is not None, "metadata is read before a token is verified"
                self._jwks = await self._get_json(meta.jwks_uri, "JWKS")
            jwks = self._jwks
        try:
            return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except Exception as exc:  # joserfc raises several kinds on a malformed set
            raise ProviderUnavailable(
                f"the provider's JWKS is unusable ({type(exc).__name__})"
            ) from None

    async def verify(self, id_token: str, *, nonce: str) -> Identity:
        """The ID token's claims once everything checks; :class:`TokenRejected` saying what
        did not (never the token)."""
        from joserfc import jwt
        from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError

        meta = await self.metadata()
        token = None
        for refresh in (False, True):
            keys = await self._key_set(refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=list(meta.algorithms))
                break
            except InvalidKeyIdError:
                continue
            except BadSignatureError:
                raise TokenRejected("the ID token's signature does not verify") from None
            except JoseError as exc:
                raise TokenRejected(f"the ID token is malformed ({exc.error})") from None
        if token is None:
            raise TokenRejected("the ID token is signed by a key the provider does not publish")
        claims = token.claims
        self._check_claims(claims, nonce)
        subject = str(claims["sub"])
        if not _SUBJECT.fullmatch(subject):  # it names the user in events and logs
            raise TokenRejected("the ID token's subject is not a printable identifier")
        return Identity(subject, claims)

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        from joserfc import jwt
        from joserfc.errors import ClaimError, ExpiredTokenError

        required = {"essential": True}
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_S,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub=required,  # type: ignore[arg-type]
            exp=required,  # type: ignore[arg-type]
            iat=required,  # type: ignore[arg-type]
        )
        issuer = claims.get("iss")
        if isinstance(issuer, str):  # a trailing slash is the same issuer
            claims = {**claims, "iss": issuer.rstrip("/")}
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRejected("the ID token has expired") from None
        except ClaimError as exc:
            raise TokenRejected(
                f"the ID token's {_CLAIM_NAMES.get(exc.claim, exc.claim)} is wrong"
            ) from None
        audience = claims["aud"]
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != self.config.client_id
        ):
            raise TokenRejected("the ID token's authorized party is not this client")
        given = claims.get("nonce")
        if not isinstance(given, str) or not secrets.compare_digest(given, nonce):
            raise TokenRejected("the ID token's nonce is not this sign-in's")


_CLAIM_NAMES: Final = {
    "iss": "issuer",
    "aud": "audience",
    "sub": "subject",
    "exp": "expiry",
    "iat": "issue time",
    "nbf": "not-before time",
}
