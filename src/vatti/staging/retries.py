"""How often and how patiently the runtime asks a source for an input (pure: no I/O).

One policy, from ``VATTI_TRANSFER_RETRIES``, ``VATTI_TRANSFER_RETRY_DELAY`` and
``VATTI_TRANSFER_TIMEOUT``, for every source: the transfer collection, its token endpoint and the
key handler (:mod:`vatti.staging.https` follows :meth:`RetryPolicy.backoff`), and buckets
(obstore is given :meth:`RetryPolicy.obstore_config` instead of its own default of ten retries
over up to three minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vatti.notify.backoff import ExponentialBackoff

if TYPE_CHECKING:
    from vatti.config import SourceSettings

#: the longest wait between two attempts
MAX_DELAY_S = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Time-outs and retries of the runtime's requests (from :class:`SourceSettings`)."""

    timeout_s: float = 60.0
    attempts: int = 5
    first_delay_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: SourceSettings) -> RetryPolicy:
        return cls(
            timeout_s=settings.transfer_timeout,
            attempts=settings.transfer_retries,
            first_delay_s=settings.transfer_retry_delay,
        )

    def backoff(self) -> ExponentialBackoff:
        first = self.first_delay_s
        return ExponentialBackoff(
            base_s=first, max_s=max(first, MAX_DELAY_S), max_attempts=self.attempts, jitter=0.1
        )

    def obstore_config(self) -> dict[str, Any]:
        """obstore's ``retry_config`` for the same attempts and delays.

        >>> RetryPolicy(attempts=3).obstore_config()["max_retries"]
        2
        """
        return {
            "max_retries": self.attempts - 1,
            "retry_timeout": timedelta(seconds=self.timeout_s * self.attempts),
            "backoff": {
                "init_backoff": timedelta(seconds=self.first_delay_s),
                "max_backoff": timedelta(seconds=max(self.first_delay_s, MAX_DELAY_S)),
                "base": 2.0,
            },
        }
