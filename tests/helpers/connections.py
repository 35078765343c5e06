"""Connections as tests make and read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ConnFactory = Callable[..., str]
"""The ``make_connection`` fixtures: make an ``sf360`` connection for the emulator and return its conn id."""


def stored_connection(conn_id: str) -> dict[str, Any]:
    """The connection as the metadata DB holds it, secrets in clear (read in this process through the ORM)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one()
        return {"password": conn.password, "extra": conn.extra_dejson, "login": conn.login}
