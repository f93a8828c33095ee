"""Rendering pages: the Jinja environment (autoescaped), security headers, error pages, static assets.

Every page answer carries a Content-Security-Policy that allows scripts, styles and
connections from the node's own origin only and forbids inline scripts. Text from the chain
(titles, descriptions, reviews, notes) is escaped by the templates' autoescaping.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from importlib.resources import files
from typing import Any, Final

import jinja2
from aiohttp import web

from web import format as fmt

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATIC_PREFIX: Final = "/static/"
MAX_STATIC_BYTES: Final = 512 * 1024


class PageError(Exception):
    """A page cannot be shown: rendered as an HTML error page with ``status`` and a message."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def not_found(detail: str) -> PageError:
    """A 404 page saying what was not found."""
    return PageError(404, "Not found", detail)


def hex32(text: str, what: str) -> bytes:
    """The 32 bytes that 64 hex digits ``text`` spell, else a 404 page naming ``what``."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise not_found(f"{what} {text[:80]!r} is not 64 hex digits")
    return raw


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file held in memory, with its fingerprint."""

    body: bytes
    content_type: str
    version: str
    """The first 10 hex digits of its SHA-256 (in the URL, so a new build is a new URL)."""


def load_assets() -> dict[str, Asset]:
    """Every file in web/static/, read once; each must be under MAX_STATIC_BYTES."""
    assets: dict[str, Asset] = {}
    for entry in files("web").joinpath("static").iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        body = entry.read_bytes()
        if len(body) > MAX_STATIC_BYTES:
            raise ValueError(f"web/static/{entry.name} is larger than {MAX_STATIC_BYTES} bytes")
        content_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
        assets[entry.name] = Asset(body, content_type, hashlib.sha256(body).hexdigest()[:10])
    return assets


class Renderer:
    """Renders templates to page responses; knows the static assets' fingerprinted URLs."""

    def __init__(self, assets: Mapping[str, Asset]) -> None:
        self.assets = dict(assets)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            amount=fmt.amount,
            rate=fmt.rate,
            when=fmt.when,
            iso=fmt.iso,
            short=fmt.short,
            duration=fmt.duration,
            address=fmt.address,
            day=fmt.day,
            period=fmt.period,
        )
        self.env.globals["asset"] = self.asset_url

    def asset_url(self, name: str) -> str:
        """The fingerprinted URL of a static file (KeyError for an unknown one: a template bug)."""
        return f"{STATIC_PREFIX}{name}?v={self.assets[name].version}"

    def page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        """The rendered template as an HTML response with the security headers."""
        html = self.env.get_template(template).render(**context)
        response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-cache"
        return response

    def error(self, exc: PageError) -> web.Response:
        """The error page of ``exc``."""
        return self.page("error.html", status=exc.status, title=exc.title, detail=exc.detail)


RENDERER: Final = web.AppKey("web_renderer", Renderer)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page_handler(handler: Handler) -> Handler:
    """Wrap a page handler so that a PageError becomes its HTML error page (never a stack trace)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except PageError as exc:
            return request.app[RENDERER].error(exc)

    return wrapped


API_PREFIXES: Final = ("/api/", "/p2p/", "/metrics", "/healthz", "/readyz")


@web.middleware
async def html_not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A browser asking for a page that does not exist gets the HTML 404 page.

    Only for GET/HEAD of paths outside the API and only when the request accepts text/html:
    API clients keep their problem+json answers (the API's own middleware, outside this one).
    """
    try:
        return await handler(request)
    except web.HTTPNotFound:
        wants_html = "text/html" in request.headers.get("Accept", "")
        if request.method not in ("GET", "HEAD") or not wants_html or request.path.startswith(API_PREFIXES):
            raise
        return request.app[RENDERER].error(not_found(f"there is no page at {request.path[:200]}"))


async def get_static(request: web.Request) -> web.Response:
    """A static asset; cached for a year when asked for by its current fingerprint."""
    renderer = request.app[RENDERER]
    asset = renderer.assets.get(request.match_info["name"])
    if asset is None:
        return renderer.error(not_found(f"no static file {request.match_info['name'][:80]!r}"))
    response = web.Response(body=asset.body, content_type=asset.content_type)
    response.headers.update(SECURITY_HEADERS)
    response.enable_compression()  # gzip when the browser takes it: wallet.js is 75 KB, 27 KB gzipped
    if request.query.get("v") == asset.version:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response
