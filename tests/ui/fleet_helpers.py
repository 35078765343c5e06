"""Helpers for the fleet-page, audit-log and multi-team tests (no fixtures here; those stay in conftest)."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.helpers.waiting import wait_for

__all__ = ["csrf_of", "event_logs", "extra_of", "forget_token_state", "set_up_headless", "wait_for"]

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, html[:2000]
    return match.group(1)


def set_up_headless(emu: Any, callback_url: str, conn_id: str) -> None:
    """A stored token for ``conn_id`` through the action service and the emulator's headless consent."""
    from airflow_provider_sf360.service.actions import SF360Actions
    from airflow_provider_sf360.service.audit import AirflowAuditLog

    actions = SF360Actions(conn_id, audit=AirflowAuditLog.for_user("test", "cli"))
    url = actions.start_authorization(redirect_uri=callback_url)
    assert actions.complete_authorization(emu.authorize_headless(url)).ok


def forget_token_state(conn_id: str) -> None:
    """Revoke and remove any token stored for ``conn_id`` (and a link it holds to another connection's token)."""
    from airflow.models.variable import Variable

    from airflow_provider_sf360.core.state_keys import token_key
    from airflow_provider_sf360.service.actions import SF360Actions

    SF360Actions(conn_id).delete()
    Variable.delete(token_key(conn_id))


def event_logs(api_url: str, admin_token: str, event: str, conn_id: str, wait: float = 10.0) -> list[dict[str, Any]]:
    """Audit-log entries ``event`` about ``conn_id`` through the REST API (``/api/v2/eventLogs``), once there is
    one (they are written after the action answers)."""
    import json

    def entries() -> list[dict[str, Any]]:
        answer = requests.get(
            f"{api_url}/api/v2/eventLogs", params={"event": event, "limit": "100", "order_by": "-id"},
            headers={"Authorization": f"Bearer {admin_token}"}, timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return [e for e in answer.json()["event_logs"] if json.loads(e.get("extra") or "{}").get("conn_id") == conn_id]

    return wait_for(entries, timeout=wait, interval=0.3, what=f"audit-log entry {event} about {conn_id}")


def extra_of(entry: dict[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(entry.get("extra") or "{}"))
