"""Errors of notification delivery."""

from __future__ import annotations

from vatti.errors import VattiError


class DeliveryError(VattiError):
    """A notification was not delivered; ``transient`` says whether trying later may help."""

    code = "delivery_failed"

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
