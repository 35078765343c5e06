"""What the page's routes share: templates, Airflow authorization per connection and team, CSRF, flash messages,
and who acts (the audit sink of the signed-in user).

Airflow does not authenticate plugin apps, so every route requires an authenticated Airflow user, and every
row and action is authorized per connection (with its team under ``[core] multi_team``) through Airflow's auth
manager: reading a connection needs ``GET`` on it, acting on it ``PUT``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails
from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from airflow_provider_sf360.plugins import pages
from airflow_provider_sf360.service.audit import AirflowAuditLog
from airflow_provider_sf360.service.oauth_state import csrf_ok, csrf_token, make_flash, read_flash
from airflow_provider_sf360.store.connections import team_of

PLUGIN_DIR = Path(__file__).resolve().parent
FLASH_COOKIE = "sf360_flash"
CALLBACK_PATH = "/sf360/callback"
PAGE_SIZE = 50
BULK_TEST_CONCURRENCY = 4  # Test access calls running at once in the api-server's threads

authenticated = [Depends(requires_authenticated())]
AccessMethod = Literal["GET", "PUT", "DELETE"]  # read, edit, delete a connection (Airflow's auth manager)
Outcome = tuple[bool, str]
templates = Environment(
    loader=FileSystemLoader(PLUGIN_DIR / "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)
templates.filters.update(pages.FILTERS)


def render(request: Request, name: str, title: str, **context: Any) -> str:
    """A template of ``plugins/templates`` (autoescaped), with the page's static files and title."""
    static = str(request.url_for("page")).rstrip("/") + "/static"
    return templates.get_template(name).render(title=title, static=static, **context)


def page_url(request: Request) -> str:
    return str(request.url_for("page"))


def callback_url(request: Request, configured: str | None = None) -> str:
    """The redirect URI: the connection's Callback URL when it points at this page, else this server's.

    This server's is built from ``[api] base_url`` when set, so it does not depend on the Host the browser used.
    """
    if configured and urlsplit(configured).path.rstrip("/").endswith(CALLBACK_PATH):
        return configured
    base = (conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")
    return f"{base}{CALLBACK_PATH}" if base else str(request.url_for("callback"))


def connections_url(request: Request) -> str:
    return str(request.base_url).rstrip("/").removesuffix("/sf360") + "/connections"


def _session_token(request: Request) -> str | None:
    """The Airflow session's JWT (Bearer header first, then the ``_token`` cookie), as ``get_user`` reads it."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("_token")


def csrf(request: Request, user: BaseUser) -> str:
    return csrf_token(str(user.get_id()), _session_token(request))


def check_csrf(request: Request, user: BaseUser, token: str | None) -> None:
    if not csrf_ok(str(user.get_id()), token, _session_token(request)):
        raise HTTPException(403, "Missing, expired or invalid CSRF token; reload the page and try again.")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def flash_cookie_path(request: Request) -> str:
    return urlsplit(page_url(request)).path


def back_to_page(request: Request, user_id: str, outcome: Outcome, signin: bool = False) -> RedirectResponse:
    """Post/Redirect/Get: the outcome travels in a signed, short-lived, http-only cookie, never in the URL."""
    response = RedirectResponse(page_url(request), status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        make_flash(outcome[0], outcome[1][:1500], user_id) + ("~signin" if signin else ""),
        max_age=120,
        path=flash_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def flash_of(request: Request, user_id: str) -> tuple[tuple[bool, str] | None, bool]:
    raw = request.cookies.get(FLASH_COOKIE) or ""
    signin = raw.endswith("~signin")
    return read_flash(raw.removesuffix("~signin"), user_id), signin


def is_authorized(
    user: BaseUser, conn_id: str | None, method: AccessMethod = "PUT", team_name: str | None = None
) -> bool:
    """Airflow's auth manager on one connection (with its team); ``conn_id`` None: connections in general."""
    details = ConnectionDetails(conn_id=conn_id, team_name=team_name) if conn_id or team_name else None
    return bool(get_auth_manager().is_authorized_connection(method=method, details=details, user=user))


def authorize(user: BaseUser, conn_id: str, method: AccessMethod = "PUT") -> None:
    """Raise 403 unless ``user`` may read (GET) or edit (PUT) the connection, in its team."""
    if not is_authorized(user, conn_id, method, team_of(conn_id)):
        raise HTTPException(403, f"You may not {'edit' if method != 'GET' else 'read'} connection {conn_id!r}.")


def audit_of(user: BaseUser) -> AirflowAuditLog:
    """Who acts from the page: the signed-in Airflow user."""
    return AirflowAuditLog.for_user(str(user.get_name()), "page")
