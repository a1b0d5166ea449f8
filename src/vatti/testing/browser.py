"""Debian's chromium, driven by Playwright, for the browser tests (marker ``browser``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from vatti.testing.services import chromium_path, missing


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless chromium (a Playwright ``Browser``); skip locally or fail in CI when
    chromium or Playwright is missing. Playwright's own browser downloads are never used."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "install the dev extra (pip install -e '.[dev]')")
    with sync_playwright() as driver:
        # as root, chromium needs --no-sandbox
        launched = driver.chromium.launch(executable_path=str(executable), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
