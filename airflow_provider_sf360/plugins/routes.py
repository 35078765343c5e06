"""The FastAPI app behind the "Salesforce 360" page, mounted by Airflow's api-server under ``/sf360``.

Airflow does not authenticate plugin apps, so every route declares Airflow's own dependencies: viewing
needs read access to connections, every action (and the OAuth callback) needs edit access. Actions are
POST forms carrying a per-user CSRF token; results come back through a signed flash cookie (Post/Redirect/
Get), so no message, code, token or secret is ever put in a URL. All flow logic is the hook's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_connection
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.plugins import pages, renewal_api
from airflow_provider_sf360.plugins.oauth_state import (
    InvalidStateError,
    csrf_ok,
    csrf_token,
    make_flash,
    make_state,
    read_flash,
    read_state,
)
from airflow_provider_sf360.store import connections

log = logging.getLogger(__name__)

FLASH_COOKIE = "sf360_flash"
ACTIONS = ("setup", "reset", "test", "delete")
CALLBACK_PATH = "/sf360/callback"

can_read = [Depends(requires_access_connection(method="GET"))]
can_edit = [Depends(requires_access_connection(method="PUT"))]

router = APIRouter()
Outcome = tuple[bool, str]


# ------------------------------------------------------------------ helpers
def _page_url(request: Request) -> str:
    return str(request.url_for("page"))


def _callback_url(request: Request, configured: str | None = None) -> str:
    """The redirect URI: the connection's Callback URL when it points at this page, else this server's."""
    if configured and urlsplit(configured).path.rstrip("/").endswith(CALLBACK_PATH):
        return configured
    return str(request.url_for("callback"))


def _connections_url(request: Request) -> str:
    return str(request.base_url).rstrip("/").removesuffix("/sf360") + "/connections"


def _back_to_page(request: Request, user_id: str, outcome: Outcome) -> RedirectResponse:
    response = RedirectResponse(_page_url(request), status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        make_flash(outcome[0], outcome[1], user_id),
        max_age=120,
        path=urlsplit(_page_url(request)).path,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _run(action: Callable[[], Outcome]) -> Outcome:
    """Run one hook action; provider errors become a failure message, anything else a generic one."""
    from airflow_provider_sf360.exceptions import SF360Error

    try:
        return action()
    except SF360Error as error:
        return False, str(error)
    except Exception as error:
        log.error("sf360 page: unexpected %s", type(error).__name__)  # no message: it could hold a URL
        return False, f"Unexpected error ({type(error).__name__}); see the api-server log."


def _is_authorized(user: Any, conn_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return bool(
        get_auth_manager().is_authorized_connection(method="PUT", details=ConnectionDetails(conn_id=conn_id), user=user)
    )


# ------------------------------------------------------------------ actions (sync, run in a thread)
def _hook(conn_id: str) -> Any:
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
    try:
        state = read_state(value, username=user.get_name())
    except InvalidStateError as error:
        return False, f"Setup refused: {error}. Nothing was changed."
    if not connections.connection_exists(state.conn_id) or not _is_authorized(user, state.conn_id):
        return False, "Setup refused: the connection is gone or you may not edit it. Nothing was changed."
    result = _hook(state.conn_id).complete_authorization(url, set_up_by=user.get_name())
    return result.ok, result.message


# ------------------------------------------------------------------ routes
@router.get("/", name="page", dependencies=can_read, response_class=HTMLResponse)
def page(request: Request, user: GetUserDep) -> HTMLResponse:
    """Every ``sf360`` connection with status, last test and the four actions."""
    user_id = user.get_id()
    rows = [connections.connection_row(cid) for cid in connections.list_conn_ids()]
    urls = {row.conn_id: _row_urls(request, row.conn_id) for row in rows}
    html = pages.list_page(
        rows,
        urls,
        _callback_url(request),
        csrf_token(user_id),
        read_flash(request.cookies.get(FLASH_COOKIE), user_id),
        _connections_url(request),
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    response.delete_cookie(FLASH_COOKIE, path=urlsplit(_page_url(request)).path)
    return response


def _row_urls(request: Request, conn_id: str) -> dict[str, str]:
    urls = {a: str(request.url_for("action", connection_id=conn_id, action=a)) for a in ACTIONS}
    urls["delete"] = str(request.url_for("confirm_delete", connection_id=conn_id))
    urls["edit"] = _connections_url(request)
    return urls


@router.get("/callback", name="callback", dependencies=[Depends(_hide_callback_query), *can_edit])
async def callback(request: Request, user: GetUserDep) -> Response:
    """Where Salesforce sends the browser back with ``code`` and ``state`` (or ``error``)."""
    url, state = request.state.sf360_callback
    outcome = await run_in_threadpool(_run, lambda: _complete(url, state, user))
    return _back_to_page(request, user.get_id(), outcome)


@router.get(
    "/connections/{connection_id}/delete", name="confirm_delete", dependencies=can_edit, response_class=HTMLResponse
)
def confirm_delete(request: Request, connection_id: str, user: GetUserDep) -> HTMLResponse:
    """The confirmation step before Delete."""
    post_url = str(request.url_for("action", connection_id=connection_id, action="delete"))
    html = pages.delete_page(connection_id, post_url, _page_url(request), csrf_token(user.get_id()))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post("/connections/{connection_id}/{action}", name="action", dependencies=can_edit)
async def action(request: Request, connection_id: str, action: str, user: GetUserDep) -> Response:
    """Set up, Reset, Test Access or Delete; answers with a redirect (to Salesforce or back to the page)."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if action not in ACTIONS:
        raise HTTPException(404, "Unknown action")
    if not csrf_ok(user.get_id(), form.get("csrf_token")):
        raise HTTPException(403, "Missing or invalid CSRF token; reload the page and try again.")
    outcome = await run_in_threadpool(_run, lambda: _dispatch(request, connection_id, action, form, user))
    if isinstance(outcome, str):
        return RedirectResponse(outcome, status_code=303)
    return _back_to_page(request, user.get_id(), outcome)


def _dispatch(request: Request, conn_id: str, action: str, form: dict[str, str], user: Any) -> Any:
    if not connections.connection_exists(conn_id):
        return False, f"There is no sf360 connection {conn_id!r}."
    username = user.get_name()
    if action == "setup":
        return _setup(request, conn_id, username)
    if action == "reset":
        return _reset(conn_id, username)
    if action == "test":
        return _test(conn_id)
    if form.get("confirm") != "yes":
        return False, "Delete needs confirmation; nothing was changed."
    return _delete(conn_id)


# ------------------------------------------------------------------ app
async def _http_error(request: Request, exc: Exception) -> Response:
    """401/403/404 as a short HTML page for browsers (with a sign-in link), JSON for other clients."""
    from fastapi.responses import JSONResponse

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    headers = getattr(exc, "headers", None)
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if status == 401:
        html = pages.error_page("Sign in required", str(detail), _login_url(request), "Sign in to Airflow")
    else:
        html = pages.error_page("Not allowed" if status == 403 else "Error", str(detail), "/", "Back to Airflow")
    return HTMLResponse(html, status_code=status, headers=headers)


def _login_url(request: Request) -> str:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return str(get_auth_manager().get_url_login(next_url=str(request.url)))
    except Exception:
        return "/auth/login"


def create_app() -> FastAPI:
    """The app mounted under ``/sf360`` (built only when Airflow reads the plugin's ``fastapi_apps``)."""
    app = FastAPI(title="Salesforce 360", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router)
    app.include_router(renewal_api.router)  # issue 9: tasks renew refresh tokens here
    app.add_exception_handler(HTTPException, _http_error)
    return app
