"""The "Salesforce 360" page: every ``sf360`` connection the user may read, its status, and the confirmations.

Rows come from the action service's fleet view (non-secret status only); nothing secret is passed to a template.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from airflow_provider_sf360.plugins.web import (
    BULK_TEST_CONCURRENCY,
    FLASH_COOKIE,
    PAGE_SIZE,
    authenticated,
    authorize,
    callback_url,
    connections_url,
    csrf,
    flash_cookie_path,
    flash_of,
    is_authorized,
    page_url,
    render,
)
from airflow_provider_sf360.service.fleet import fleet_status
from airflow_provider_sf360.store.connections import STATUSES, ConnectionRow, OrphanedState

router = APIRouter()


def visible_fleet(user: BaseUser) -> tuple[list[ConnectionRow], list[OrphanedState], set[str]]:
    """Rows this user may read, orphans of teams they may delete connections in, and ids they may edit.

    Sharing is shown even when the other connection is not visible: by name when the user may read it, else
    counted (``hidden_shares``), so nobody resets a shared token unwarned.
    """
    fleet = fleet_status()
    rows = [r for r in fleet.rows if is_authorized(user, r.conn_id, "GET", r.team_name)]
    editable = {r.conn_id for r in rows if is_authorized(user, r.conn_id, "PUT", r.team_name)}
    orphans = [o for o in fleet.orphans if is_authorized(user, o.set_up_for, "DELETE", o.team_name)]
    if not rows and not is_authorized(user, None, "GET"):
        raise HTTPException(403, "You may not read connections.")
    visible = {r.conn_id for r in rows}
    for row in rows:
        row.hidden_shares = sum(1 for cid in row.shared_with if cid not in visible)
        row.shared_with = [cid for cid in row.shared_with if cid in visible]
        if row.shared_from is not None and row.shared_from not in visible:
            row.shared_from = "a connection you cannot see"
    return rows, orphans, editable


@router.get("/", name="page", dependencies=authenticated, response_class=HTMLResponse)
def page(request: Request, user: GetUserDep) -> HTMLResponse:
    """Every ``sf360`` connection this user may read, with status, last test and the actions."""
    user_id = str(user.get_id())
    rows, orphans, editable = visible_fleet(user)
    flash, signin = flash_of(request, user_id)
    html = render(
        request, "page.html", "Salesforce 360",
        rows=rows,
        orphans=orphans,
        editable=editable,
        statuses=STATUSES,
        callback_url=callback_url(request),
        csrf=csrf(request, user),
        flash=flash,
        signin_done=signin,
        connections_url=connections_url(request),
        base=urlsplit(page_url(request)).path.rstrip("/"),
        page_size=PAGE_SIZE,
        concurrency=BULK_TEST_CONCURRENCY,
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    response.delete_cookie(FLASH_COOKIE, path=flash_cookie_path(request))
    return response


def action_url(request: Request, conn_id: str, action: str) -> str:
    """The URL an action on ``conn_id`` posts to, the id escaped as one path segment (``?``, ``#``, ``/``)."""
    base = urlsplit(page_url(request)).path.rstrip("/")
    return f"{base}/connections/{quote(conn_id, safe='')}/{action}"


@router.get(
    "/connections/{connection_id}/{action}/confirm", name="confirm", dependencies=authenticated,
    response_class=HTMLResponse,
)
def confirm(request: Request, connection_id: str, action: str, user: GetUserDep) -> HTMLResponse:
    """The confirmation step before Delete (and Reset), naming the connections that share the token."""
    if action not in ("delete", "reset"):
        raise HTTPException(404, "Unknown action")
    authorize(user, connection_id)
    rows, _, _ = visible_fleet(user)
    row = next((r for r in rows if r.conn_id == connection_id), None)
    html = render(
        request, "confirm.html", f"{action.capitalize()} {connection_id}",
        action=action, conn_id=connection_id, csrf=csrf(request, user),
        shared_with=row.shared_with if row else [], hidden_shares=row.hidden_shares if row else 0,
        shared_from=row.shared_from if row else None,
        post_url=action_url(request, connection_id, action), back_url=page_url(request),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/connections/{connection_id}/delete", name="confirm_delete", dependencies=authenticated)
def confirm_delete(request: Request, connection_id: str) -> Response:
    """Old address of the Delete confirmation."""
    return RedirectResponse(action_url(request, connection_id, "delete/confirm"), 303)
