"""URLs made safe to show: no user info, query or fragment, which may hold credentials (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit

INVALID = "<invalid url>"


def redact_url(url: str, *, keep_path: bool = True) -> str:
    """``url`` as scheme, host, port and (unless ``keep_path`` is False) path.

    A webhook's path may hold a token too: logs name a destination by its origin alone.

    >>> redact_url("https://user:pw@hooks.example.org:8443/h/1?token=s3cret#x")
    'https://hooks.example.org:8443/h/1'
    >>> redact_url("https://u:pw@hooks.example.org/t/abc?token=x", keep_path=False)
    'https://hooks.example.org'
    >>> redact_url("s3://KEY:SECRET@bucket/prefix?x=1"), redact_url("http://u@[::1]:8080/x#f")
    ('s3://bucket/prefix', 'http://[::1]:8080/x')
    >>> redact_url("not a url"), redact_url("http://[::1")
    ('<invalid url>', '<invalid url>')
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return INVALID
    if not parts.scheme or not (host or parts.path):
        return INVALID
    if ":" in host:
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin + parts.path if keep_path else origin
