"""A job's secret settings where an engine hands a job to another host: sealed with keys that host
and the engine share.

The Celery executor puts them in the task message, which whoever reads the broker (and Flower)
sees; the SLURM executor in a file of its spool, which the job's wrapper deletes as it reads it.
Either way they travel only sealed by :class:`vatti.secretbox.SecretBox` (Fernet) under keys of
their own (``VATTI_CELERY_SECRETS_KEY``; the SLURM spool's ``secret.key``), not the service key,
so a worker host or node holds nothing that opens the job database's secrets. The sealed text
names the job and attempt it belongs to: the receiving side refuses it for any other.
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
