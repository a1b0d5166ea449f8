"""How vatti's processes log: one line format on stderr, and no third-party line with a secret.

httpx logs every request's full URL at INFO (and httpcore more at DEBUG); a webhook's or a
download's URL may carry a token in its path or query, so both are held at WARNING whatever the
level. vatti logs its own deliveries and downloads with the destination's origin only.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: Loggers that would print request URLs in clear text below WARNING.
URL_LOGGERS = ("httpx", "httpcore")


def configure_logging(level: str = "INFO", *, replace: bool = True) -> None:
    """Log at ``level`` to stderr; with ``replace=False``, keep a host program's set-up."""
    if replace or not logging.getLogger().handlers:
        logging.basicConfig(level=level.upper(), stream=sys.stderr, format=FORMAT, force=replace)
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
