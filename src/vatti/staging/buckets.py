"""What obstore is given for an ``s3://`` or ``gs://`` store URL (pure: nothing is contacted).

Every value that decides where requests go and what signs them comes from the ``VATTI_S3_*`` /
``VATTI_GCS_*`` settings and is passed explicitly. obstore also reads the process's ``AWS_*`` and
``GOOGLE_*`` variables, but only for keys it is not given, so each such key is given here: the
endpoint (also as ``aws_endpoint_url_s3``, which obstore would otherwise let win over it), the
region, path or virtual-hosted addressing, plain-HTTP permission, and the credentials. S3
credentials go through a credential provider holding exactly the configured keys, so no other
credential source (environment session tokens, web identity, ECS, the EC2 metadata service) is
ever consulted; without keys (or, on GCS, without a service account key) requests are anonymous
(``skip_signature``), which also never looks credentials up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from vatti.config import StoreSettings
from vatti.domain.urls import redact_url
from vatti.errors import ConfigError
from vatti.staging.errors import InvalidKey
from vatti.staging.keys import check_prefix

if TYPE_CHECKING:
    from obstore.store import S3Credential

#: where Google Cloud Storage answers when no endpoint is configured
GCS_DEFAULT_ENDPOINT = "https://storage.googleapis.com"


def s3_default_endpoint(region: str) -> str:
    """AWS's regional S3 endpoint.

    >>> s3_default_endpoint("eu-north-1")
    'https://s3.eu-north-1.amazonaws.com'
    """
    return f"https://s3.{region}.amazonaws.com"


@dataclass(frozen=True)
class StaticS3Credentials:
    """An obstore S3 credential provider that only ever answers the configured keys."""

    access_key_id: str
    secret_access_key: SecretStr = field(repr=False)
    session_token: SecretStr | None = field(default=None, repr=False)

    def __call__(self) -> S3Credential:
        token = self.session_token
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key.get_secret_value(),
            "token": token.get_secret_value() if token is not None else None,
            "expires_at": None,
        }


@dataclass(frozen=True)
class BucketConfig:
    """The arguments of one obstore ``S3Store`` / ``GCSStore`` (``config`` may hold a secret)."""

    scheme: Literal["s3", "gs"]
    bucket: str
    prefix: str | None
    config: dict[str, str | bool] = field(repr=False)
    client_options: dict[str, str | bool]
    credentials: StaticS3Credentials | None = field(default=None, repr=False)
    #: the endpoint requests go to (bucket included when virtual-hosted)
    endpoint: str = ""


def bucket_of(url: str) -> tuple[str, str, str | None]:
    """``(scheme, bucket, prefix)`` of a bucket URL; ConfigError for anything else in it.

    >>> bucket_of("s3://vatti-work/deploy/a/"), bucket_of("gs://b")
    (('s3', 'vatti-work', 'deploy/a'), ('gs', 'b', None))
    """
    shown = redact_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("s3", "gs"):
        raise ConfigError(f"not a bucket URL: {shown}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{shown}: put credentials and options in the VATTI_S3_* / VATTI_GCS_* settings, "
            "not in the store URL"
        )
    if not parts.hostname or ":" in parts.netloc:
        raise ConfigError(f"{shown}: expected {scheme}://BUCKET/PREFIX")
    prefix = unquote(parts.path).strip("/")
    if prefix:
        try:
            check_prefix(prefix)
        except InvalidKey as exc:
            raise ConfigError(f"{shown}: {exc.message}") from None
    return scheme, parts.netloc, prefix or None


def s3_config(bucket: str, prefix: str | None, settings: StoreSettings) -> BucketConfig:
    base = settings.s3_endpoint or s3_default_endpoint(settings.s3_region)
    if settings.s3_path_style:
        endpoint = base
    else:  # obstore wants the bucket in a virtual-hosted endpoint
        scheme, _, host = base.partition("://")
        endpoint = f"{scheme}://{bucket}.{host}"
    credentials = None
    if settings.s3_access_key_id is not None and settings.s3_secret_access_key is not None:
        credentials = StaticS3Credentials(
            settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
        )
    config: dict[str, str | bool] = {
        "region": settings.s3_region,
        "endpoint": endpoint,
        "aws_endpoint_url_s3": endpoint,
        "virtual_hosted_style_request": not settings.s3_path_style,
        "skip_signature": credentials is None,
    }
    client_options: dict[str, str | bool] = {"allow_http": endpoint.startswith("http://")}
    return BucketConfig("s3", bucket, prefix, config, client_options, credentials, endpoint)


def gcs_config(bucket: str, prefix: str | None, settings: StoreSettings) -> BucketConfig:
    endpoint = settings.gcs_endpoint or GCS_DEFAULT_ENDPOINT
    key = settings.gcs_service_account_key
    config: dict[str, str | bool] = {"base_url": endpoint, "skip_signature": key is None}
    if key is not None:
        config["service_account_key"] = key.get_secret_value()
    client_options: dict[str, str | bool] = {"allow_http": endpoint.startswith("http://")}
    return BucketConfig("gs", bucket, prefix, config, client_options, None, endpoint)


def bucket_config(url: str, settings: StoreSettings) -> BucketConfig:
    """What obstore is given for the bucket URL ``url`` under ``settings``."""
    scheme, bucket, prefix = bucket_of(url)
    if scheme == "s3":
        return s3_config(bucket, prefix, settings)
    return gcs_config(bucket, prefix, settings)
