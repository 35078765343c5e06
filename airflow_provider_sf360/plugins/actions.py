"""The page's actions: Set up (and its OAuth callback), Reset, Test access, Delete, Prune. Thin adapters over
``SF360Actions`` and the fleet service, which do the work and record it in Airflow's audit log.

Actions are POST forms (FastAPI ``Form()``) carrying a CSRF token bound to the user and the Airflow session;
results come back through a signed flash cookie (Post/Redirect/Get), or as JSON for the page's script (bulk
Test access, sign-in in a new tab), so no message, code, token or secret is ever put in a URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated

import anyio
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.core.credentials import AuthFlow
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.plugins.web import (
    BULK_TEST_CONCURRENCY,
    Outcome,
    audit_of,
    authenticated,
    authorize,
    back_to_page,
    callback_url,
    check_csrf,
    is_authorized,
    wants_json,
)
from airflow_provider_sf360.service.actions import SF360Actions
from airflow_provider_sf360.service.diagnose import diagnose
from airflow_provider_sf360.service.fleet import fleet_status, prune
from airflow_provider_sf360.service.oauth_state import InvalidStateError, make_state, read_state
from airflow_provider_sf360.store.connections import connection_exists, team_of

log = logging.getLogger(__name__)
router = APIRouter()
ACTIONS = ("setup", "reset", "test", "delete", "diagnose")
_test_limiter: anyio.CapacityLimiter | None = None


def _limiter() -> anyio.CapacityLimiter:
    """Bounds Test access calls across requests (created lazily inside the event loop)."""
    global _test_limiter
    if _test_limiter is None:
        _test_limiter = anyio.CapacityLimiter(BULK_TEST_CONCURRENCY)
    return _test_limiter


def _run(action: Callable[[], str | Outcome]) -> str | Outcome:
    """Run one action; provider errors become a failure message, anything else a generic one."""
    try:
        return action()
    except SF360Error as error:
        return False, str(error)
    except Exception as error:
        log.error("sf360 page: unexpected %s", type(error).__name__)  # no message: it could hold a URL
        return False, f"Unexpected error ({type(error).__name__}); see the api-server log."


def _setup(request: Request, actions: SF360Actions, username: str) -> str | Outcome:
    """An authorize URL to redirect to (authorization_code), or the outcome of a direct setup."""
    creds = actions.hook.credentials
    if creds.auth_flow is AuthFlow.AUTHORIZATION_CODE:
        state = make_state(actions.conn_id, username)
        return actions.start_authorization(redirect_uri=callback_url(request, creds.callback_url), state=state)
    result = actions.setup()
    return result.ok, result.message


def _dispatch(request: Request, conn_id: str, action: str, confirm: str | None, user: BaseUser) -> str | Outcome:
    if not connection_exists(conn_id):
        return False, f"There is no sf360 connection {conn_id!r}."
    if action == "delete" and confirm != "yes":
        return False, "Delete needs confirmation; nothing was changed."
    actions = SF360Actions(conn_id, audit=audit_of(user))
    if action == "setup":
        return _setup(request, actions, str(user.get_name()))
    result = {
        "reset": lambda: actions.reset(),
        "test": lambda: actions.test_access(),
        "delete": lambda: actions.delete(remove_connection_secrets=True),
    }[action]()
    return result.ok, result.message


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
    check_csrf(request, user, csrf_token)
    await run_in_threadpool(authorize, user, connection_id)
    if action == "diagnose":
        return await _diagnose(request, connection_id, user)
    run = partial(_run, lambda: _dispatch(request, connection_id, action, confirm, user))
    if action == "test":
        outcome = await anyio.to_thread.run_sync(run, limiter=_limiter())
    else:
        outcome = await run_in_threadpool(run)
    if isinstance(outcome, str):
        if wants_json(request):
            return JSONResponse({"ok": True, "redirect": outcome})
        return RedirectResponse(outcome, status_code=303)
    if wants_json(request):
        rows = (await run_in_threadpool(fleet_status, [connection_id])).rows
        row = rows[0] if rows else None
        return JSONResponse({
            "ok": outcome[0], "message": outcome[1], "status": row.status_name if row else "missing",
            "error": row.error if row else None, "last_test": row.status.get("last_test") if row else None,
        })
    return back_to_page(request, str(user.get_id()), outcome)


async def _diagnose(request: Request, conn_id: str, user: BaseUser) -> Response:
    """Diagnose: every check with its verdict (JSON for the page's script, a summary flash otherwise)."""
    if not await run_in_threadpool(connection_exists, conn_id):
        raise HTTPException(404, f"There is no sf360 connection {conn_id!r}.")
    result = await anyio.to_thread.run_sync(
        partial(diagnose, conn_id, page_callback=callback_url(request), audit=audit_of(user)), limiter=_limiter()
    )
    problems = [f"{c.name}: {c.message}" + (f" Fix: {c.fix}" if c.fix else "") for c in result.checks
                if c.verdict.value in ("fail", "warn")]
    summary = (f"Diagnosis of {conn_id!r}: " + ("no problem found." if not problems else " | ".join(problems)))
    if wants_json(request):
        return JSONResponse({**result.to_dict(), "message": summary})
    return back_to_page(request, str(user.get_id()), (result.ok, summary))


# ------------------------------------------------------------------ the OAuth callback of Set up
def _hide_callback_query(request: Request) -> None:
    """Keep the callback's URL for the route, then blank its query (code, state) for Airflow's access log.

    Declared before the auth dependency, so it also runs when that one refuses the request (401/403).
    The access log reads the same scope dict after the response.
    """
    request.state.sf360_callback = (str(request.url), request.query_params.get("state", ""))
    redacted = "&".join(f"{key}=***" for key in request.query_params)
    request.scope["query_string"] = redacted.encode()


def _complete(url: str, value: str, user: BaseUser) -> Outcome:
    """The OAuth callback: check the signed state, then let the service redeem the code."""
    try:
        state = read_state(value, username=user.get_name())
    except InvalidStateError as error:
        return False, f"Setup refused: {error}. Nothing was changed."
    if not connection_exists(state.conn_id) or not is_authorized(user, state.conn_id, "PUT", team_of(state.conn_id)):
        return False, "Setup refused: the connection is gone or you may not edit it. Nothing was changed."
    result = SF360Actions(state.conn_id, audit=audit_of(user)).complete_authorization(url)
    return result.ok, result.message


async def _callback(request: Request, user: BaseUser) -> Response:
    url, state = request.state.sf360_callback
    outcome = await run_in_threadpool(_complete_safely, url, state, user)
    return back_to_page(request, str(user.get_id()), outcome, signin=True)


def _complete_safely(url: str, state: str, user: BaseUser) -> Outcome:
    outcome = _run(lambda: _complete(url, state, user))
    return outcome if isinstance(outcome, tuple) else (False, "Unexpected answer.")


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


# ------------------------------------------------------------------ orphaned token state
@router.post("/orphans/prune", name="prune", dependencies=authenticated)
async def prune_orphan(
    request: Request,
    user: GetUserDep,
    state_key: Annotated[str, Form(max_length=250)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Revoke and remove one orphaned token state (users who may delete connections of its team)."""
    check_csrf(request, user, csrf_token)
    visible = await run_in_threadpool(_prunable_by, user, state_key)
    if not visible:
        raise HTTPException(403, "You may not prune this token state (no such orphan in a team you may delete "
                                 "connections in).")
    outcome = await run_in_threadpool(prune, state_key, audit_of(user))
    if wants_json(request):
        return JSONResponse({"ok": outcome[0], "message": outcome[1]})
    return back_to_page(request, str(user.get_id()), outcome)


def _prunable_by(user: BaseUser, state_key: str) -> bool:
    """Whether ``state_key`` is an orphan of a team in which ``user`` may delete connections."""
    return any(
        orphan.state_key == state_key and is_authorized(user, orphan.set_up_for, "DELETE", orphan.team_name)
        for orphan in fleet_status().orphans
    )
