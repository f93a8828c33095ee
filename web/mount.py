"""Mounting the pages on the node's client API app (the ``agora.api_extensions`` entry point)."""

from __future__ import annotations

from aiohttp import web

from node.api_schema import add_operations
from web.conversion import CONVERSION_OPERATIONS
from web.dashboard import DASHBOARD_ROUTES
from web.explorer import EXPLORER_ROUTES
from web.finance import FINANCE_ROUTES
from web.financing import FINANCING_ROUTES
from web.kpis import KPI_ROUTES
from web.pages import RENDERER, STATIC_PREFIX, Renderer, get_static, html_not_found, load_assets
from web.points import POINTS_ROUTES
from web.provenance import digital_link_pages
from web.shop import SHOP_ROUTES


def mount(app: web.Application) -> None:
    """Add the explorer, shop and static routes to ``app`` (whose ``SERVICES`` the pages read).

    Guarantees the API's own routes are untouched: every page lives outside ``/api/``.
    """
    app[RENDERER] = Renderer(load_assets())
    app.middlewares.append(html_not_found)  # inside the API's problem middleware
    app.middlewares.append(digital_link_pages)  # a browser opening a Digital Link gets the item page
    for method, path, handler in (
        *EXPLORER_ROUTES,
        *SHOP_ROUTES,
        *DASHBOARD_ROUTES,
        *KPI_ROUTES,
        *FINANCE_ROUTES,
        *POINTS_ROUTES,
        *FINANCING_ROUTES,
    ):
        app.router.add_route(method, path, handler)
    add_operations(app, CONVERSION_OPERATIONS)
    app.router.add_route("GET", STATIC_PREFIX + "{name}", get_static)
