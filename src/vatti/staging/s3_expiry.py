"""One bucket lifecycle rule that expires the results areas on S3 (boto3: obstore cannot set one).

The sweeper deletes each job's results when its recorded expiry passes, on every store; on S3 a
lifecycle rule on the results prefix is the backstop for when no engine runs. S3 limits the rules
of a bucket (1,000) and replaces them all at each write, so the rule is merged into the bucket's
rules: kept when it is there already, replaced when its expiry changed, others left as they
were. The rule counts from each object's creation, whole days, so it is set a day past the TTL
and never deletes results before their recorded expiry. boto3 comes with the ``s3`` extra and is
imported only here, with explicit endpoint, region and credentials (none looked up elsewhere);
without credentials no rule is set.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from vatti.config import StoreSettings
from vatti.domain.layout import RESULTS_PREFIX
from vatti.errors import ConfigError
from vatti.staging.buckets import bucket_of, s3_default_endpoint

RULE_ID_PREFIX = "vatti-results-expiry-"
DAY_S = 86400.0
#: the rule's fields that say what it does (S3 answers others too, e.g. a legacy empty Prefix)
RULE_FIELDS = ("ID", "Filter", "Status", "Expiration", "AbortIncompleteMultipartUpload")

Rule = dict[str, Any]
Change = Literal["created", "updated", "present"]


def expiry_days(ttl_s: float) -> int:
    """Days after creation at which S3 may delete a result: a day past the TTL, whole days.

    >>> expiry_days(7 * 86400), expiry_days(3600), expiry_days(1.5 * 86400)
    (8, 2, 3)
    """
    return math.ceil(ttl_s / DAY_S) + 1


def results_rule_prefix(url: str) -> str:
    """The key prefix of every results area in the bucket of the results store at ``url``.

    >>> results_rule_prefix("s3://project-results/vatti"), results_rule_prefix("s3://b")
    ('vatti/results/', 'results/')
    """
    _scheme, _bucket, prefix = bucket_of(url)
    return f"{prefix}/{RESULTS_PREFIX}" if prefix else RESULTS_PREFIX


def expiry_rule(prefix: str, days: int) -> Rule:
    """vatti's rule for ``prefix``: its id is derived from the prefix, so each deployment's
    results prefix has one rule and finds it again."""
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:16]
    return {
        "ID": RULE_ID_PREFIX + digest,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        # parts of uploads a killed job left behind
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def _essence(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {name: rule[name] for name in RULE_FIELDS if name in rule}


def merged_rules(existing: Sequence[Rule], rule: Rule) -> tuple[list[Rule], Change]:
    """The bucket's rules with ``rule`` in them, and what changed.

    >>> ours = expiry_rule("results/", 8)
    >>> other = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled"}
    >>> merged_rules([other], ours) == ([other, ours], "created")
    True
    >>> merged_rules([other, ours], ours) == ([other, ours], "present")
    True
    >>> merged_rules([ours, other], expiry_rule("results/", 3))[1]
    'updated'
    """
    wanted = _essence(rule)
    kept = [r for r in existing if r.get("ID") != rule["ID"]]
    if len(kept) == len(existing):
        return [*existing, rule], "created"
    mine = [r for r in existing if r.get("ID") == rule["ID"]]
    if len(mine) == 1 and _essence(mine[0]) == wanted:
        return list(existing), "present"
    at = next(i for i, r in enumerate(existing) if r.get("ID") == rule["ID"])
    return [*kept[:at], rule, *kept[at:]], "updated"


class LifecycleClient(Protocol):
    """The two calls of boto3's S3 client used here."""

    def get_bucket_lifecycle_configuration(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def put_bucket_lifecycle_configuration(self, **kwargs: Any) -> Any: ...


def ensure_rule(client: LifecycleClient, bucket: str, rule: Rule) -> Change:
    """Merge ``rule`` into ``bucket``'s lifecycle rules (one read, a write only on change)."""
    try:
        rules = list(client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", []))
    except Exception as exc:
        if _error_code(exc) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    merged, change = merged_rules(rules, rule)
    if change != "present":
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": merged}
        )
    return change


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            return str(error.get("Code"))
    return None


def s3_client(settings: StoreSettings) -> LifecycleClient:
    """A boto3 S3 client for exactly the configured endpoint, region and keys.

    ConfigError when boto3 is missing or no keys are configured (an anonymous client could only
    be refused, and boto3 would look credentials up elsewhere first)."""
    if settings.s3_access_key_id is None or settings.s3_secret_access_key is None:
        raise ConfigError("no S3 credentials are configured (VATTI_S3_ACCESS_KEY_ID)")
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError(
            "setting the S3 lifecycle rule needs boto3: pip install 'vatti[s3]'"
        ) from None
    token = settings.s3_session_token
    client: LifecycleClient = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint or s3_default_endpoint(settings.s3_region),
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        aws_session_token=token.get_secret_value() if token is not None else None,
        config=Config(
            s3={"addressing_style": "path" if settings.s3_path_style else "virtual"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    return client


def ensure_results_expiry(url: str, settings: StoreSettings, ttl_s: float) -> Change:
    """Set the expiry rule of the results store at ``url`` (an ``s3://`` URL)."""
    _scheme, bucket, _prefix = bucket_of(url)
    rule = expiry_rule(results_rule_prefix(url), expiry_days(ttl_s))
    return ensure_rule(s3_client(settings), bucket, rule)
