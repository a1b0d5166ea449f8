"""Notifiers: signed webhooks (:mod:`.webhook`, :mod:`.signature`), and the retry policy of the
outbox (:mod:`.backoff`). Import the modules themselves: the package imports nothing, so a job's
runtime that needs only the backoff does not load an HTTP client."""
