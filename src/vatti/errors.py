"""The one exception root of vatti.

Every subsystem derives its own subtree from :class:`VattiError`. Each leaf carries a stable
``code`` (used in the HTTP error envelope and in job failure records) and an ``exit_code`` (used by
the CLI), so the edges translate errors once, the same way everywhere.
"""

from __future__ import annotations


class VattiError(Exception):
    """Root of all errors raised by vatti on purpose."""

    code: str = "error"
    exit_code: int = 1
    #: The same call may succeed later (a database that is briefly unreachable or locked):
    #: background loops retry it instead of stopping, the API answers 503.
    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(VattiError):
    """Settings are missing or invalid for the component being started."""

    code = "config_invalid"
    exit_code = 78  # EX_CONFIG
