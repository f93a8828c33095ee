"""Debian's Chromium driven by Playwright: headless, no sandbox (CI runs as root), no network.

``make setup`` installs /usr/bin/chromium when it is missing; a test that needs it fails
loudly without it (never skips).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from playwright.async_api import BrowserContext, Page, async_playwright

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


def collect_errors(page: Page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions (CSP violations included)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors
