"""A job's secret settings in its Celery task message: sealed with the key engine and workers share.

A task message is visible to whoever reads the broker (and its arguments to Flower), so the
launch's secrets travel in it only encrypted and authenticated (Fernet: AES-128-CBC with
HMAC-SHA256), under a key derived from ``VATTI_CELERY_SECRETS_KEY``. The sealed text names the
job and attempt it belongs to: a worker refuses it for any other.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken

from vatti.executors.errors import ExecutorError


class SealBroken(ExecutorError):
    """The sealed secrets could not be opened (another key, or altered)."""

    code = "executor_seal_broken"


def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def seal(key: str, job_id: str, attempt: int, secrets: Mapping[str, str]) -> str:
    """The secrets of one attempt, encrypted.

    >>> k = "k" * 32
    >>> unseal(k, "j1", 1, seal(k, "j1", 1, {"VATTI_X": "v"}))
    {'VATTI_X': 'v'}
    """
    body = json.dumps({"job_id": job_id, "attempt": attempt, "secrets": dict(secrets)})
    return _fernet(key).encrypt(body.encode()).decode()


def unseal(key: str, job_id: str, attempt: int, sealed: str) -> dict[str, str]:
    """The secrets sealed by :func:`seal` for this attempt; :class:`SealBroken` otherwise."""
    try:
        body = json.loads(_fernet(key).decrypt(sealed.encode()))
    except (InvalidToken, ValueError, TypeError):
        raise SealBroken(
            "the job's secrets could not be opened: VATTI_CELERY_SECRETS_KEY differs between "
            "the engine and this worker, or the message was altered"
        ) from None
    if body.get("job_id") != job_id or body.get("attempt") != attempt:
        raise SealBroken("the job's sealed secrets belong to another job or attempt")
    secrets = body.get("secrets")
    if not isinstance(secrets, dict):
        raise SealBroken("the job's sealed secrets are not an object")
    return {str(k): str(v) for k, v in secrets.items()}
