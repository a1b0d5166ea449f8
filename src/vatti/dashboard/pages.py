"""Rendering a page: its Jinja2 template, a fresh CSP nonce, and the headers a page needs.

Each page allows only its own nonce for scripts and styles (``script-src 'nonce-…'``,
``style-src 'nonce-…'``: no inline handler, no ``style=`` attribute, nothing from elsewhere),
connects only to its own origin (the live updates), and is never framed or cached.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vatti.dashboard.session import csrf_token

TEMPLATES = Path(__file__).parent / "templates"


def page_csp(nonce: str) -> str:
    """The content security policy of a page rendered with ``nonce``.

    >>> "script-src 'nonce-abc'" in page_csp("abc") and "unsafe-inline" not in page_csp("abc")
    True
    """
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(18)
        context.setdefault("caller", None)
        html = self.env.get_template(template).render(
            nonce=nonce,
            csrf=csrf_token(request),
            base=request.scope.get("root_path", ""),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(
            html,
            status_code=status,
            headers={"content-security-policy": page_csp(nonce), "cache-control": "no-store"},
        )
