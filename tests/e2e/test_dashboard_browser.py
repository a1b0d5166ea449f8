"""The dashboard in a real browser (Debian's chromium driven by Playwright), on a real
``vatti serve``, 375 px wide: sign in with the keyboard, submit a job from the CLI and watch it
succeed without reloading, open its log, cancel another, look at the summary, sign out.

Every page is checked with axe (no serious or critical violation), for horizontal scrolling at
375 px, and for console errors (a CSP violation is one). Screenshots of each page are kept in
``$VATTI_TEST_ARTIFACTS/dashboard`` (default: ``artifacts/dashboard`` under pytest's base
temporary directory, e.g. ``/tmp/pytest-of-$USER/pytest-N/artifacts/dashboard``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Launcher, Server, clean_env, command, kill_group, unique

from vatti.testing.browser import chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WIDTH = 375
#: how long the browser waits for a live change (the job itself takes ~2 s)
LIVE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("VATTI_TEST_ARTIFACTS")
    base = Path(root) if root else tmp_path_factory.getbasetemp() / "artifacts"
    path = base / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Checked:
    """A tab whose every page is screenshot, axe-checked and measured for overflow."""

    def __init__(self, tab: Any, artifacts: Path, *, width: int = WIDTH) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.tab = tab
        self.width = width
        self.artifacts = artifacts
        self.axe = Axe()
        self.console: list[str] = []
        tab.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        tab.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        tab.on(
            "response",
            lambda r: r.status >= 400 and self.console.append(f"error: {r.status} {r.url}"),
        )

    def check(self, name: str, *, refused: bool = False) -> None:
        """Screenshot and check the page (``refused``: it was answered 401, as it should)."""
        tab = self.tab
        tab.wait_for_load_state("load")
        tab.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= self.width, f"{name}: {width} px wide, scrolls sideways at {self.width} px"
        violations = self.axe.run(tab).response["violations"]
        bad = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{name}: axe found {bad}"
        errors = [c for c in self.console if c.startswith(("error", "pageerror"))]
        if refused:
            errors = [e for e in errors if "401" not in e]
        assert errors == [], f"{name}: {errors}"
        self.console.clear()


def cli_run(server: Server, body: dict[str, Any], workdir: Path) -> subprocess.Popen[str]:
    """``vatti run REQUEST --url`` against the server: it submits and follows the job."""
    request = workdir / f"request-{len(list(workdir.glob('request-*')))}.json"
    request.write_text(json.dumps(unique(body)))
    return subprocess.Popen(
        [sys.executable, "-m", "vatti", "run", str(request), "--url", server.url],
        cwd=workdir,
        env=clean_env(VATTI_TOKEN=server.token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def tab_until(tab: Any, focused: str, what: str, limit: int = 40) -> None:
    """Press Tab until ``focused`` (a JavaScript expression on ``e``, the focused element)
    holds: the element is reachable with the keyboard alone."""
    for _ in range(limit):
        tab.keyboard.press("Tab")
        if tab.evaluate(f"(e => !!e && ({focused}))(document.activeElement)"):
            return
    pytest.fail(f"{what} cannot be reached with the Tab key")


def tab_to(tab: Any, element_id: str) -> None:
    tab_until(tab, f"e.id === {json.dumps(element_id)}", f"#{element_id}")


def tab_to_text(tab: Any, text: str) -> None:
    tab_until(tab, f"(e.textContent || '').trim() === {json.dumps(text)}", repr(text))


def wide_pages(browser: Any, server: Server, artifacts: Path) -> None:
    """The list and a job on a desktop-sized window (screenshots and axe)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = Checked(context.new_page(), artifacts, width=1280)
        tab = page.tab
        tab.goto(f"{server.url}/dashboard/sign-in")
        tab.fill("#token", server.token)
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{server.url}/dashboard/")
        page.check("11-jobs-wide")
        tab.locator("table.jobs tbody tr a.id").last.click()
        tab.wait_for_load_state("load")
        page.check("12-job-wide")
    finally:
        context.close()


def test_sign_in_watch_a_job_succeed_read_its_log_cancel_another_sign_out(
    launcher: Launcher, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server = launcher.start(tmp_path / "data")
    context = browser.new_context(viewport={"width": WIDTH, "height": 800})
    page = Checked(context.new_page(), artifacts)
    tab = page.tab
    runs: list[subprocess.Popen[str]] = []
    try:
        tab.goto(f"{server.url}/dashboard/")
        assert tab.url.startswith(f"{server.url}/dashboard/sign-in")
        page.check("01-sign-in")

        tab_to(tab, "token")
        tab.keyboard.type("wrong-token")
        tab.keyboard.press("Enter")
        expect(tab.get_by_role("alert")).to_contain_text("unknown, revoked or expired")
        page.check("02-sign-in-refused", refused=True)
        tab_to(tab, "token")
        tab.keyboard.type(server.token)
        tab.keyboard.press("Enter")
        expect(tab.get_by_role("heading", name="Jobs")).to_be_visible()
        page.check("03-jobs-empty")

        # a job from the CLI appears and succeeds on the open page, without a reload
        tab.evaluate("window.__same_page = true")
        runs.append(
            cli_run(server, command("sh", "-c", "echo started; sleep 2; echo finished"), tmp_path)
        )
        row = tab.locator("table.jobs tbody tr").first
        expect(row.locator(".state")).to_have_text("succeeded", timeout=LIVE_TIMEOUT_MS)
        assert tab.evaluate("window.__same_page === true"), "the page was reloaded"
        assert runs[0].wait(timeout=60) == 0, runs[0].communicate()
        page.check("04-jobs-succeeded")

        # its page, then its log
        tab_until(tab, "e.classList.contains('id')", "the job's link")
        tab.keyboard.press("Enter")
        expect(tab.locator("#job-state")).to_have_text("succeeded")
        expect(tab.get_by_role("heading", name="Timeline")).to_be_visible()
        page.check("05-job-succeeded")
        tab_to_text(tab, "Log")
        tab.keyboard.press("Enter")
        expect(tab.locator("#log")).to_contain_text("finished")
        page.check("06-log")

        # another job, cancelled from its page while it runs
        runs.append(cli_run(server, command("sh", "-c", "echo waiting; sleep 120"), tmp_path))
        tab.goto(f"{server.url}/dashboard/?state=running")
        running = tab.locator("table.jobs tbody tr a.id").first
        expect(running).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        running.click()
        expect(tab.locator("#job-state")).to_have_text("running")
        page.check("07-job-running")
        tab_to_text(tab, "Cancel job")
        tab.keyboard.press("Enter")
        expect(tab.locator("#job-state")).to_have_text("cancelled", timeout=LIVE_TIMEOUT_MS)
        page.check("08-job-cancelled")
        assert runs[1].wait(timeout=60) != 0  # vatti run reports the cancellation

        tab.goto(f"{server.url}/dashboard/summary")
        expect(tab.get_by_role("heading", name="Jobs by state")).to_be_visible()
        page.check("09-summary")

        wide_pages(browser, server, artifacts)

        tab_to_text(tab, "Sign out")
        tab.keyboard.press("Enter")
        expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
        tab.goto(f"{server.url}/dashboard/summary")
        assert tab.url.startswith(f"{server.url}/dashboard/sign-in")
        page.check("10-signed-out")
    finally:
        for run in runs:
            if run.poll() is None:
                kill_group(run)
            run.communicate()
        context.close()
