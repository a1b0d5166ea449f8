"""How vatti's processes log: one line format on stderr, and no third-party line with a secret.

httpx logs every request's full URL at INFO (and httpcore more at DEBUG); a webhook's or a
download's URL may carry a token in its path or query, so both are held at WARNING whatever the
level. vatti logs its own deliveries and downloads with the destination's origin only.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: the id of the HTTP request being handled (set by the API), added to every line logged for it
REQUEST_ID: ContextVar[str | None] = ContextVar("vatti_request_id", default=None)
#: Loggers that would print request URLs in clear text below WARNING.
URL_LOGGERS = ("httpx", "httpcore")


class RequestIdFormatter(logging.Formatter):
    """The line format, with `` request_id=...`` appended while a request is handled."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = REQUEST_ID.get()
        return line if request_id is None else f"{line} request_id={request_id}"


def configure_logging(level: str = "INFO", *, replace: bool = True) -> None:
    """Log at ``level`` to stderr; with ``replace=False``, keep a host program's set-up."""
    if replace or not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RequestIdFormatter(FORMAT))
        logging.basicConfig(level=level.upper(), handlers=[handler], force=replace)
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
