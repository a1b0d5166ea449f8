"""Notifiers: signed webhooks, and the retry policy of the outbox."""

from vatti.notify.backoff import ExponentialBackoff
from vatti.notify.errors import DeliveryError
from vatti.notify.signature import sign, signature_header, verify_signature
from vatti.notify.webhook import WebhookNotifier

__all__ = [
    "DeliveryError",
    "ExponentialBackoff",
    "WebhookNotifier",
    "sign",
    "signature_header",
    "verify_signature",
]
