"""Metadata-DB helpers shared by the page and the CLI: list ``sf360`` connections, read their status,
and remove a connection's own secret fields (what Delete does beyond the hook's token removal).

Only for server-side processes (api-server, CLI): Airflow 3 tasks may not use the ORM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CONN_TYPE = "sf360"
SECRET_EXTRA_KEYS = ("private_key", "refresh_token")


@dataclass
class ConnectionRow:
    """One line of the page: the connection's non-secret settings and token status, or why it is broken."""

    conn_id: str
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    callback_url: str | None = None

    @property
    def auth_flow(self) -> str | None:
        return self.status.get("auth_flow")


def list_conn_ids() -> list[str]:
    """Ids of every connection of type ``sf360`` in the metadata DB, sorted."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ids = session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE)).all()
    return sorted(ids)


def connection_row(conn_id: str) -> ConnectionRow:
    """Status of one connection without calling Salesforce; a broken connection gives its error message."""
    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    hook = SF360Hook(conn_id)
    try:
        callback = hook.credentials.callback_url
        return ConnectionRow(conn_id, hook.status(), callback_url=callback)
    except SF360Error as error:
        return ConnectionRow(conn_id, error=str(error))
    except Exception as error:  # one unreadable connection must not break the page
        return ConnectionRow(conn_id, error=f"The connection could not be read ({type(error).__name__}).")


def remove_secret_fields(conn_id: str) -> list[str]:
    """Clear the Consumer Secret, Private Key and Refresh Token of a connection; returns what was removed."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    removed: list[str] = []
    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        if conn is None:
            return removed
        if conn.password:
            removed.append("password")
            # ``Connection.password = None`` is a no-op (FernetFieldsMixin.set_password ignores falsy values).
            conn._password = None
            conn.is_encrypted = False
        extra = conn.extra_dejson
        for key in SECRET_EXTRA_KEYS:
            if extra.pop(key, None) is not None:
                removed.append(key)
        if any(key != "password" for key in removed):
            conn.extra = json.dumps(extra)
    return removed


SECRET_FIELD_LABELS = {"password": "Consumer Secret", "private_key": "Private Key", "refresh_token": "Refresh Token"}


def describe_secret_fields(removed: list[str]) -> str:
    """Form labels of removed secret fields, for messages."""
    return ", ".join(SECRET_FIELD_LABELS[key] for key in removed) or "none were set"


def connection_exists(conn_id: str) -> bool:
    """Whether the metadata DB has a connection of type ``sf360`` with this id."""
    return conn_id in list_conn_ids()
