"""The FastAPI app behind the "Salesforce 360" page, mounted by Airflow's api-server under ``/sf360``.

Airflow does not authenticate plugin apps, so every route requires an authenticated Airflow user, and every
row and action is authorized per connection (with its team under ``[core] multi_team``) through Airflow's auth
manager: reading a connection needs ``GET`` on it, acting on it ``PUT``. Actions are POST forms (FastAPI
``Form()``) carrying a CSRF token bound to the user and the Airflow session; results come back through a signed
flash cookie (Post/Redirect/Get), or as JSON for the page's script (bulk Test access, sign-in in a new tab), so
no message, code, token or secret is ever put in a URL. HTML comes from Jinja2 templates with autoescape.
All flow logic is the hook's; every action is written to Airflow's audit log (``store/audit.py``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

import anyio
from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.plugins import audit_api, pages, renewal_api
from airflow_provider_sf360.plugins.oauth_state import (
    InvalidStateError,
    csrf_ok,
    csrf_token,
    make_flash,
    make_state,
    read_flash,
    read_state,
)
from airflow_provider_sf360.store import audit, connections

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

    from airflow_provider_sf360.hooks.sf360 import SF360Hook

log = logging.getLogger(__name__)

PLUGIN_DIR = Path(__file__).resolve().parent
FLASH_COOKIE = "sf360_flash"
ACTIONS = ("setup", "reset", "test", "delete")
AUDIT_EVENTS = {"setup": "setup", "reset": "reset", "test": "test_access", "delete": "delete"}
CALLBACK_PATH = "/sf360/callback"
PAGE_SIZE = 50
BULK_TEST_CONCURRENCY = 4  # Test access calls running at once in the api-server's threads
SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

authenticated = [Depends(requires_authenticated())]
router = APIRouter()
Outcome = tuple[bool, str]
templates = Environment(
    loader=FileSystemLoader(PLUGIN_DIR / "templates"), autoescape=select_autoescape(default=True), auto_reload=False
)
templates.filters.update(pages.FILTERS)
_test_limiter: anyio.CapacityLimiter | None = None


def _limiter() -> anyio.CapacityLimiter:
    """Bounds Test access calls across requests (created lazily inside the event loop)."""
    global _test_limiter
    if _test_limiter is None:
        _test_limiter = anyio.CapacityLimiter(BULK_TEST_CONCURRENCY)
    return _test_limiter


# ------------------------------------------------------------------ helpers
def _render(request: Request, name: str, title: str, **context: Any) -> str:
    """A template of ``plugins/templates`` (autoescaped), with the page's static files and title."""
    static = str(request.url_for("page")).rstrip("/") + "/static"
    return templates.get_template(name).render(title=title, static=static, **context)


def _page_url(request: Request) -> str:
    return str(request.url_for("page"))


def _configured_base_url() -> str:
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")


def _callback_url(request: Request, configured: str | None = None) -> str:
    """The redirect URI: the connection's Callback URL when it points at this page, else this server's.

    This server's is built from ``[api] base_url`` when set, so it does not depend on the Host the browser used.
    """
    if configured and urlsplit(configured).path.rstrip("/").endswith(CALLBACK_PATH):
        return configured
    base = _configured_base_url()
    return f"{base}{CALLBACK_PATH}" if base else str(request.url_for("callback"))


def _connections_url(request: Request) -> str:
    return str(request.base_url).rstrip("/").removesuffix("/sf360") + "/connections"


def _session_token(request: Request) -> str | None:
    """The Airflow session's JWT (Bearer header first, then the ``_token`` cookie), as ``get_user`` reads it."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("_token")


def _csrf(request: Request, user: Any) -> str:
    return csrf_token(str(user.get_id()), _session_token(request))


def _check_csrf(request: Request, user: Any, token: str | None) -> None:
    if not csrf_ok(str(user.get_id()), token, _session_token(request)):
        raise HTTPException(403, "Missing, expired or invalid CSRF token; reload the page and try again.")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _flash_cookie_path(request: Request) -> str:
    return urlsplit(_page_url(request)).path


def _back_to_page(request: Request, user_id: str, outcome: Outcome, signin: bool = False) -> RedirectResponse:
    response = RedirectResponse(_page_url(request), status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        make_flash(outcome[0], outcome[1][:1500], user_id) + ("~signin" if signin else ""),
        max_age=120,
        path=_flash_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _run(action: Callable[[], Any]) -> Any:
    """Run one hook action; provider errors become a failure message, anything else a generic one."""
    from airflow_provider_sf360.exceptions import SF360Error

    try:
        return action()
    except SF360Error as error:
        return False, str(error)
    except Exception as error:
        log.error("sf360 page: unexpected %s", type(error).__name__)  # no message: it could hold a URL
        return False, f"Unexpected error ({type(error).__name__}); see the api-server log."


def _team_of(conn_id: str | None) -> str | None:
    from airflow.configuration import conf

    if not conn_id or not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.connection import Connection

    return Connection.get_team_name(conn_id)


def _is_authorized(user: Any, conn_id: str | None, method: str = "PUT", team_name: str | None = None) -> bool:
    """Airflow's auth manager on one connection (with its team); ``conn_id`` None: connections in general."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    details = ConnectionDetails(conn_id=conn_id, team_name=team_name) if conn_id else None
    return bool(get_auth_manager().is_authorized_connection(method=method, details=details, user=user))  # type: ignore[arg-type]


def _authorize(user: Any, conn_id: str, method: str = "PUT") -> None:
    if not _is_authorized(user, conn_id, method, _team_of(conn_id)):
        raise HTTPException(403, f"You may not {'edit' if method != 'GET' else 'read'} connection {conn_id!r}.")


def _audit(event: str, conn_id: str, outcome: Outcome | str, user: Any, source: str = "page") -> None:
    if isinstance(outcome, str):
        ok_text, message = outcome, ""
    else:
        ok_text, message = ("success" if outcome[0] else "failed"), outcome[1]
    audit.record_action(event, conn_id, ok_text, user=user.get_name(), message=message, source=source)


# ------------------------------------------------------------------ actions (sync, run in a thread)
def _hook(conn_id: str) -> SF360Hook:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    return SF360Hook(conn_id)


def _setup(request: Request, conn_id: str, username: str) -> str | Outcome:
    """An authorize URL to redirect to (authorization_code), or the outcome of a direct setup."""
    hook = _hook(conn_id)
    creds = hook.credentials
    if creds.auth_flow.value == "authorization_code":
        state = make_state(conn_id, username)
        redirect_uri = _callback_url(request, creds.callback_url)
        return str(hook.authorization_url(redirect_uri=redirect_uri, state=state, requested_by=username))
    result = hook.setup(set_up_by=username)
    return result.ok, result.message


def _reset(conn_id: str, username: str) -> Outcome:
    result = _hook(conn_id).reset(set_up_by=username)
    return result.ok, result.message


def _test(conn_id: str) -> Outcome:
    result = _hook(conn_id).test_access()
    return result.ok, result.message


def _delete(conn_id: str) -> Outcome:
    """Revoke and remove the token, and the connection's own secret fields (even when its fields are invalid)."""
    from airflow_provider_sf360.exceptions import CredentialsInvalidError

    try:
        result = _hook(conn_id).delete(remove_connection_secrets=True)
    except CredentialsInvalidError:
        removed = connections.describe_secret_fields(connections.remove_secret_fields(conn_id))
        return True, (
            f"Connection {conn_id!r} has invalid fields, so no token could be revoked. "
            f"Secret fields removed from the connection: {removed}."
        )
    return result.ok, result.message


def _hide_callback_query(request: Request) -> None:
    """Keep the callback's URL for the route, then blank its query (code, state) for Airflow's access log.

    Declared before the auth dependency, so it also runs when that one refuses the request (401/403).
    The access log reads the same scope dict after the response.
    """
    request.state.sf360_callback = (str(request.url), request.query_params.get("state", ""))
    redacted = "&".join(f"{key}=***" for key in request.query_params)
    request.scope["query_string"] = redacted.encode()


def _complete(url: str, value: str, user: Any) -> Outcome:
    """The OAuth callback: check the signed state, then let the hook redeem the code."""
    from urllib.parse import parse_qs

    try:
        state = read_state(value, username=user.get_name())
    except InvalidStateError as error:
        return False, f"Setup refused: {error}. Nothing was changed."
    if not connections.connection_exists(state.conn_id) or not _is_authorized(
        user, state.conn_id, "PUT", _team_of(state.conn_id)
    ):
        return False, "Setup refused: the connection is gone or you may not edit it. Nothing was changed."
    denied = "error" in parse_qs(urlsplit(url).query)

    def redeem() -> Outcome:
        result = _hook(state.conn_id).complete_authorization(url, set_up_by=user.get_name())
        return result.ok, result.message

    outcome: Outcome = _run(redeem)
    _audit("authorization_denied" if denied else "authorization_completed", state.conn_id, outcome, user)
    return outcome


# ------------------------------------------------------------------ the page
def _visible_fleet(user: Any) -> tuple[list[connections.ConnectionRow], list[connections.OrphanedState], set[str]]:
    """Rows this user may read, orphans (for users who may edit connections at large), ids they may edit."""
    fleet = connections.read_fleet()
    rows = [r for r in fleet.rows if _is_authorized(user, r.conn_id, "GET", r.team_name)]
    editable = {r.conn_id for r in rows if _is_authorized(user, r.conn_id, "PUT", r.team_name)}
    orphans = fleet.orphans if _is_authorized(user, None, "DELETE") else []
    if not rows and not _is_authorized(user, None, "GET"):
        raise HTTPException(403, "You may not read connections.")
    visible = {r.conn_id for r in rows}
    for row in rows:  # never name another team's connection
        row.shared_with = [cid for cid in row.shared_with if cid in visible]
    return rows, orphans, editable


def _flash_of(request: Request, user_id: str) -> tuple[tuple[bool, str] | None, bool]:
    raw = request.cookies.get(FLASH_COOKIE) or ""
    signin = raw.endswith("~signin")
    return read_flash(raw.removesuffix("~signin"), user_id), signin


@router.get("/", name="page", dependencies=authenticated, response_class=HTMLResponse)
def page(request: Request, user: GetUserDep) -> HTMLResponse:
    """Every ``sf360`` connection this user may read, with status, last test and the actions."""
    user_id = str(user.get_id())
    rows, orphans, editable = _visible_fleet(user)
    flash, signin = _flash_of(request, user_id)
    html = _render(
        request, "page.html", "Salesforce 360",
        rows=rows,
        orphans=orphans,
        editable=editable,
        statuses=connections.STATUSES,
        callback_url=_callback_url(request),
        csrf=_csrf(request, user),
        flash=flash,
        signin_done=signin,
        connections_url=_connections_url(request),
        base=urlsplit(_page_url(request)).path.rstrip("/"),
        page_size=PAGE_SIZE,
        concurrency=BULK_TEST_CONCURRENCY,
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    response.delete_cookie(FLASH_COOKIE, path=_flash_cookie_path(request))
    return response


async def _callback(request: Request, user: Any) -> Response:
    url, state = request.state.sf360_callback
    outcome = await run_in_threadpool(_run, lambda: _complete(url, state, user))
    return _back_to_page(request, str(user.get_id()), outcome, signin=True)


# Both spellings are routes of their own: Starlette's trailing-slash redirect would run before the redaction
# and put the authorization code in the access log.
@router.get("/callback", name="callback", dependencies=[Depends(_hide_callback_query), *authenticated])
async def callback(request: Request, user: GetUserDep) -> Response:
    """Where Salesforce sends the browser back with ``code`` and ``state`` (or ``error``)."""
    return await _callback(request, user)


@router.get("/callback/", include_in_schema=False, dependencies=[Depends(_hide_callback_query), *authenticated])
async def callback_slash(request: Request, user: GetUserDep) -> Response:
    """``/sf360/callback/``: the same as :func:`callback`."""
    return await _callback(request, user)


def _connection_url(request: Request, route: str, connection_id: str, **params: str) -> str:
    """The URL of a route about one connection, its id escaped as one path segment (``?``, ``#``, ``%``...)."""
    return str(request.url_for(route, connection_id=quote(connection_id, safe=""), **params))


@router.get(
    "/connections/{connection_id}/{action}/confirm", name="confirm", dependencies=authenticated,
    response_class=HTMLResponse,
)
def confirm(request: Request, connection_id: str, action: str, user: GetUserDep) -> HTMLResponse:
    """The confirmation step before Delete (and Reset), naming the connections that share the token."""
    if action not in ("delete", "reset"):
        raise HTTPException(404, "Unknown action")
    _authorize(user, connection_id)
    rows, _, _ = _visible_fleet(user)
    shared = next((r.shared_with for r in rows if r.conn_id == connection_id), [])
    html = _render(
        request, "confirm.html", f"{action.capitalize()} {connection_id}",
        action=action, conn_id=connection_id, shared_with=shared, csrf=_csrf(request, user),
        post_url=_connection_url(request, "action", connection_id, action=action),
        back_url=_page_url(request),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/connections/{connection_id}/delete", name="confirm_delete", dependencies=authenticated)
def confirm_delete(request: Request, connection_id: str, user: GetUserDep) -> Response:
    """Old address of the Delete confirmation."""
    return RedirectResponse(_connection_url(request, "confirm", connection_id, action="delete"), 303)


@router.post("/connections/{connection_id}/{action}", name="action", dependencies=authenticated)
async def action(
    request: Request,
    connection_id: str,
    action: str,
    user: GetUserDep,
    csrf_token: Annotated[str | None, Form()] = None,
    confirm: Annotated[str | None, Form()] = None,
) -> Response:
    """Set up, Reset, Test access or Delete: a redirect (to Salesforce or back to the page), or JSON."""
    if action not in ACTIONS:
        raise HTTPException(404, "Unknown action")
    _check_csrf(request, user, csrf_token)
    await run_in_threadpool(_authorize, user, connection_id)
    run = partial(_run, lambda: _dispatch(request, connection_id, action, confirm, user))
    if action == "test":
        outcome = await anyio.to_thread.run_sync(run, limiter=_limiter())
    else:
        outcome = await run_in_threadpool(run)
    if isinstance(outcome, str):
        if _wants_json(request):
            return JSONResponse({"ok": True, "redirect": outcome})
        return RedirectResponse(outcome, status_code=303)
    if _wants_json(request):
        row = await run_in_threadpool(connections.connection_row, connection_id)
        return JSONResponse({
            "ok": outcome[0], "message": outcome[1], "status": row.status_name, "error": row.error,
            "last_test": row.status.get("last_test"),
        })
    return _back_to_page(request, str(user.get_id()), outcome)


def _dispatch(request: Request, conn_id: str, action: str, confirm: str | None, user: BaseUser) -> str | Outcome:
    if not connections.connection_exists(conn_id):
        return False, f"There is no sf360 connection {conn_id!r}."
    username = user.get_name()
    if action == "delete" and confirm != "yes":
        return False, "Delete needs confirmation; nothing was changed."
    outcome = _run({
        "setup": lambda: _setup(request, conn_id, username),
        "reset": lambda: _reset(conn_id, username),
        "test": lambda: _test(conn_id),
        "delete": lambda: _delete(conn_id),
    }[action])
    _audit(AUDIT_EVENTS[action], conn_id, "started" if isinstance(outcome, str) else outcome, user)
    return outcome


@router.post("/orphans/prune", name="prune", dependencies=authenticated)
async def prune(
    request: Request,
    user: GetUserDep,
    state_key: Annotated[str, Form(max_length=250)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Revoke and remove one orphaned token state (users who may delete connections at large)."""
    _check_csrf(request, user, csrf_token)
    if not await run_in_threadpool(_is_authorized, user, None, "DELETE"):
        raise HTTPException(403, "You may not delete connections, so you may not prune token state.")
    outcome = await run_in_threadpool(_run, lambda: connections.prune_orphan(state_key))
    await run_in_threadpool(_audit, "prune", state_key, outcome, user)
    if _wants_json(request):
        return JSONResponse({"ok": outcome[0], "message": outcome[1]})
    return _back_to_page(request, str(user.get_id()), outcome)


# ------------------------------------------------------------------ app
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
    html = _render(request, "error.html", context.pop("title"), **context)
    return HTMLResponse(html, status_code=status, headers=headers)


def _login_url(request: Request) -> str:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return str(get_auth_manager().get_url_login(next_url=str(request.url)))
    except Exception:
        return "/auth/login"


async def _security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
    """No framing by other origins (Airflow's own iframe is same-origin); no sniffing; no referrer."""
    response: Response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _prepare_first_render() -> None:
    """Pay the one-time costs of the page (template compilation, imports, the fleet cache) when the api-server
    starts, not on an admin's first request."""
    try:
        for name in ("page.html", "confirm.html", "error.html"):
            templates.get_template(name)
        from airflow_provider_sf360.hooks.sf360 import SF360Hook  # noqa: F401  (imported once, here)

        connections.read_fleet()
    except Exception as error:  # a warm-up must never stop the api-server (e.g. a DB not migrated yet)
        log.info("sf360: page warm-up skipped (%s)", type(error).__name__)


@asynccontextmanager
async def _warm_up(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(_prepare_first_render)
    yield


def create_app() -> FastAPI:
    """The app mounted under ``/sf360`` (built only when Airflow reads the plugin's ``fastapi_apps``)."""
    app = FastAPI(title="Salesforce 360", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_warm_up)
    app.include_router(router)
    app.include_router(renewal_api.router)  # issue 9: tasks renew refresh tokens here
    app.include_router(audit_api.router)  # tasks write audit entries here
    app.mount("/static", StaticFiles(directory=PLUGIN_DIR / "static"), name="static")
    app.add_exception_handler(HTTPException, _http_error)
    app.middleware("http")(_security_headers)
    return app
