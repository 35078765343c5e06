"""Fixtures for the CLI tests: the emulator with a loopback callback URL, and sf360 connections in the DB."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.testing import (
    DEFAULT_CALLBACK_URLS,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    SalesforceEmulator,
)
from airflow_provider_sf360.testing.api_server import free_port
from tests.helpers.connections import ConnFactory


@pytest.fixture
def callback_url() -> str:
    return f"http://localhost:{free_port()}/OauthRedirect"


@pytest.fixture
def emu(salesforce_emulator: SalesforceEmulator, callback_url: str) -> SalesforceEmulator:
    salesforce_emulator.set_app(DEFAULT_CONSUMER_KEY, callback_urls=[*DEFAULT_CALLBACK_URLS, callback_url])
    return salesforce_emulator


@pytest.fixture
def make_connection(airflow_db: Path, emu: SalesforceEmulator, callback_url: str) -> Iterator[ConnFactory]:
    """An sf360 connection in the metadata DB for the emulator; removed (with its token) afterwards."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    made: list[str] = []

    def make(conn_id: str, **extra: Any) -> str:
        fields = {
            "org_id": DEFAULT_ORG_ID,
            "user_id": DEFAULT_USER_ID,
            "auth_flow": "authorization_code",
            "login_url": emu.login_url,
            "callback_url": callback_url,
            **extra,
        }
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            session.add(Connection(
                conn_id=conn_id, conn_type="sf360", login=DEFAULT_CONSUMER_KEY, password=DEFAULT_CONSUMER_SECRET,
                extra=json.dumps({k: v for k, v in fields.items() if v is not None}),
            ))
        made.append(conn_id)
        return conn_id

    yield make
    from airflow.exceptions import AirflowNotFoundException

    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.service.actions import SF360Actions

    for conn_id in made:
        with contextlib.suppress(SF360Error, AirflowNotFoundException):  # revoke what a test left at Salesforce
            SF360Actions(conn_id).delete()
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))


@pytest.fixture(autouse=True)
def _server_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main()`` sets ``_AIRFLOW_PROCESS_CONTEXT`` like Airflow's CLI; keep it from leaking into other tests."""
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
