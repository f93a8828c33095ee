"""Checking the ``--node`` URL before any request: a wrong one is one clear line, not a traceback."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from cli.errors import CliError

SCHEMES: Final = ("http", "https")
MAX_URL_CHARS: Final = 2048


def check_node_url(text: str) -> str:
    """Return ``text`` without a trailing slash if it is an http(s) URL with a host and a valid port.

    Anything else (no scheme, another scheme, no host, a port outside 1..65535, a query or
    fragment, spaces) raises CliError saying what is wrong and what to write instead.
    """
    url = text.strip().rstrip("/")
    if not url:
        raise CliError("--node is empty: give the node's URL, e.g. http://127.0.0.1:26657")
    if len(url) > MAX_URL_CHARS:
        raise CliError(f"--node is longer than {MAX_URL_CHARS} characters")
    shown = url if len(url) <= 100 else url[:100] + "..."
    if "://" not in url:
        raise CliError(f"--node {shown!r} has no scheme: write http://{shown}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise CliError(f"--node {shown!r} is not a valid URL: {exc}") from None
    try:
        port = parts.port
    except ValueError:
        raise CliError(f"--node {shown!r}: the port must be a number in 1..65535") from None
    if parts.scheme.lower() not in SCHEMES:
        raise CliError(f"--node {shown!r}: the scheme must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise CliError(f"--node {shown!r} has no host: write e.g. http://127.0.0.1:26657")
    if port == 0:
        raise CliError(f"--node {shown!r}: the port must be in 1..65535")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise CliError(f"--node {shown!r} must be a plain base URL (no spaces, query or fragment)")
    return url
