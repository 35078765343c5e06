"""The FastAPI app behind the "Salesforce 360" page, mounted by Airflow's api-server under ``/sf360``.

It joins the page (``page.py``), its actions (``actions.py``), the task-facing API (``renewal_api.py``,
``audit_api.py``), the static files, security headers, error pages and a warm-up at start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.plugins import actions, audit_api, page, renewal_api
from airflow_provider_sf360.plugins.web import PLUGIN_DIR, render, templates
from airflow_provider_sf360.service.fleet import fleet_status
from airflow_provider_sf360.store.legacy_keys import migrate_legacy_token_states
from airflow_provider_sf360.store.masking import in_the_api_server

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    """401/403/404 as a short HTML page for browsers (with a sign-in link), JSON for other clients."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    headers = getattr(exc, "headers", None)
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if status == 401:
        context = {"title": "Sign in required", "message": str(detail), "link_url": _login_url(request),
                   "link_label": "Sign in to Airflow"}
    else:
        context = {"title": "Not allowed" if status == 403 else "Error", "message": str(detail), "link_url": "/",
                   "link_label": "Back to Airflow"}
    html = render(request, "error.html", context.pop("title"), **context)
    return HTMLResponse(html, status_code=status, headers=headers)


def _login_url(request: Request) -> str:
    try:
        return str(get_auth_manager().get_url_login(next_url=str(request.url)))
    except Exception:  # an auth manager without a login page
        return "/auth/login"


async def _security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
    """No framing by other origins (Airflow's own iframe is same-origin); no sniffing; no referrer."""
    response: Response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _prepare_first_render() -> None:
    """Move token state of releases before 0.2 to per-connection keys, and pay the one-time costs of the page
    (template compilation, the fleet cache) when the api-server starts, not on an admin's first request."""
    try:
        migrate_legacy_token_states()
        for name in ("page.html", "confirm.html", "error.html"):
            templates.get_template(name)
        fleet_status()
    except Exception as error:  # a warm-up must never stop the api-server (e.g. a DB not migrated yet)
        log.info("sf360: page warm-up skipped (%s)", type(error).__name__)


@asynccontextmanager
async def _warm_up(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(_prepare_first_render)
    yield


def create_app() -> FastAPI:
    """The app mounted under ``/sf360`` (built only when Airflow reads the plugin's ``fastapi_apps``)."""
    in_the_api_server()  # tokens are not added to Airflow's masker here (store/masking.py says why)
    app = FastAPI(title="Salesforce 360", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_warm_up)
    for module in (page, actions, renewal_api, audit_api):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=PLUGIN_DIR / "static"), name="static")
    app.add_exception_handler(HTTPException, _http_error)
    app.middleware("http")(_security_headers)
    return app
