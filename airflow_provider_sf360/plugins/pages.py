"""Jinja2 filters of the "Salesforce 360" page's templates (``plugins/templates``, autoescaped).

Nothing secret is ever passed to a template: rows come from ``store.connections.read_fleet()`` (non-secret
status only).
"""

from __future__ import annotations

from airflow_provider_sf360.core.timestamps import utc_text

STATUS_LABELS = {
    "not_set_up": "not set up",
    "active": "active",
    "expired": "expired",
    "revoked": "revoked",
    "identity_mismatch": "identity mismatch",
    "invalid": "invalid connection",
    "orphaned": "orphaned",
}


def status_label(status: str) -> str:
    """The words shown for a status value."""
    return STATUS_LABELS.get(status, status.replace("_", " "))


FLOW_LABELS = {
    "authorization_code": "web sign-in",
    "jwt_bearer": "JWT bearer",
    "client_credentials": "client creds",
    "refresh_token": "refresh token",
}


def flow_label(flow: str) -> str:
    """A short name of an OAuth flow for the table (the full value is in the cell's title)."""
    return FLOW_LABELS.get(flow, flow.replace("_", " "))


FILTERS = {"when": utc_text, "status_label": status_label, "flow_label": flow_label}
