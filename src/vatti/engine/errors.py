"""Errors of the engine."""

from __future__ import annotations

from vatti.errors import VattiError


class EngineError(VattiError):
    """Root of engine errors."""

    code = "engine_error"


class LoopCrashed(EngineError):
    """A control loop raised unexpectedly; the engine stopped."""

    code = "engine_loop_crashed"
    exit_code = 70  # EX_SOFTWARE

    def __init__(self, loop: str, cause: BaseException) -> None:
        super().__init__(f"engine loop {loop!r} crashed: {type(cause).__name__}: {cause}")
        self.loop = loop


class ServiceWebhookUnset(EngineError):
    """An outbox message for the service webhook, while VATTI_WEBHOOK_URL is not set any more."""

    code = "service_webhook_unset"

    def __init__(self) -> None:
        super().__init__("the service webhook (VATTI_WEBHOOK_URL) is not configured any more")
