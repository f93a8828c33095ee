"""Debian's Chromium driven by Playwright: headless, no sandbox (CI runs as root), no network.

``make setup`` installs /usr/bin/chromium when it is missing; a test that needs it fails
loudly without it (never skips).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from playwright.async_api import BrowserContext, ConsoleMessage, Page, Response, async_playwright, expect

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
)
DEADLINE_MS: Final = 15_000
"""How long a browser condition may take to hold (a live update, a navigation)."""
PHONE: Final = {"width": 360, "height": 740}
expect.set_options(timeout=DEADLINE_MS)


@asynccontextmanager
async def chromium(profile: Path, viewport: dict[str, int] | None = None) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile in ``profile``; closed (process ended) on exit."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport=viewport or {"width": 1200, "height": 900},
        )
        context.set_default_timeout(DEADLINE_MS)
        try:
            yield context
        finally:
            await context.close()


RESOURCE_ERROR: Final = "Failed to load resource"


def collect_errors(page: Page, expected_404s: tuple[str, ...] = ()) -> list[str]:
    """A list that fills with the page's console errors, uncaught exceptions (CSP violations
    included) and HTTP error answers (as ``HTTP <status> <url>``), except 404s of URLs that
    contain one of ``expected_404s`` (e.g. the account of a key not funded yet)."""
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith(RESOURCE_ERROR):  # reported with its URL below
            errors.append(msg.text)

    def on_response(response: Response) -> None:
        if response.status >= 400 and not (response.status == 404 and any(p in response.url for p in expected_404s)):
            errors.append(f"HTTP {response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", on_response)
    return errors
