"""A job's secret settings in its Celery task message: sealed with keys engine and workers share.

A task message is visible to whoever reads the broker (and its arguments to Flower), so the
launch's secrets travel in it only sealed by :class:`vatti.secretbox.SecretBox` (Fernet) under
``VATTI_CELERY_SECRETS_KEY``: its own keys, not the service key, so a worker host holds nothing
that opens the job database's secrets. The sealed text names the job and attempt it belongs to:
a worker refuses it for any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from vatti.errors import VattiError
from vatti.executors.errors import ExecutorError
from vatti.secretbox import PREFIX, SecretBox


class SealBroken(ExecutorError):
    """The sealed secrets could not be opened (another key, or altered)."""

    code = "executor_seal_broken"


def seal(keys: Sequence[str], job_id: str, attempt: int, secrets: Mapping[str, str]) -> str:
    """The secrets of one attempt, sealed with the newest key.

    >>> from vatti.secretbox import new_key
    >>> keys = [new_key()]
    >>> unseal(keys, "j1", 1, seal(keys, "j1", 1, {"VATTI_X": "v"}))
    {'VATTI_X': 'v'}
    """
    body = json.dumps({"job_id": job_id, "attempt": attempt, "secrets": dict(secrets)})
    return SecretBox(keys).seal(body)


def unseal(keys: Sequence[str], job_id: str, attempt: int, sealed: str) -> dict[str, str]:
    """The secrets sealed by :func:`seal` for this attempt; :class:`SealBroken` otherwise."""
    if not sealed.startswith(PREFIX):  # never take secrets in clear from a message
        raise SealBroken("the job's secrets in its task message are not sealed")
    try:
        body = json.loads(SecretBox(keys).open(sealed))
    except (VattiError, ValueError, TypeError):
        raise SealBroken(
            "the job's secrets could not be opened: VATTI_CELERY_SECRETS_KEY of this worker has "
            "none of the engine's keys, or the message was altered"
        ) from None
    if not isinstance(body, dict):
        raise SealBroken("the job's sealed secrets are not an object")
    if body.get("job_id") != job_id or body.get("attempt") != attempt:
        raise SealBroken("the job's sealed secrets belong to another job or attempt")
    secrets = body.get("secrets")
    if not isinstance(secrets, dict):
        raise SealBroken("the job's sealed secrets are not an object")
    return {str(k): str(v) for k, v in secrets.items()}
