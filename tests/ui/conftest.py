"""Fixtures for the UI tests: one real ``airflow api-server`` per session, tokens, connections, a browser."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.testing import (
    DEFAULT_CALLBACK_URLS,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    SalesforceEmulator,
)
from airflow_provider_sf360.testing.api_server import running_api_server
from tests.fault_matrix import MAX_ATTEMPTS
from tests.helpers.api_server import API_SECRET_KEY, UI_REQUEST_TIMEOUT, ApiServer
from tests.helpers.connections import ConnFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def api_server(
    airflow_db: Path, salesforce_emulator_session: SalesforceEmulator, artifacts_dir: Path
) -> Iterator[ApiServer]:
    """``airflow api-server`` in its own process group, trusting the emulator's CA."""
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__API__SECRET_KEY": API_SECRET_KEY,
        "REQUESTS_CA_BUNDLE": salesforce_emulator_session.ca_bundle,
        "_AIRFLOW_PROCESS_CONTEXT": "server",
        # Short, bounded retries so that the fault matrix runs quickly (tests/fault_matrix.py).
        "AIRFLOW__SF360__MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "AIRFLOW__SF360__RETRY_BASE_DELAY": "0.01",
        "AIRFLOW__SF360__REQUEST_TIMEOUT": str(UI_REQUEST_TIMEOUT),
    }
    log_path = artifacts_dir / "api-server.log"
    with running_api_server(env, log_path) as url:
        passwords_file = airflow_db / "simple_auth_manager_passwords.json.generated"
        yield ApiServer(url, json.loads(passwords_file.read_text()), log_path)


@pytest.fixture
def emu(salesforce_emulator: SalesforceEmulator, api_server: ApiServer) -> SalesforceEmulator:
    """The emulator, reset, with the page's callback URL registered in the Connected App."""
    salesforce_emulator.set_app(
        DEFAULT_CONSUMER_KEY, callback_urls=[*DEFAULT_CALLBACK_URLS, api_server.callback_url()]
    )
    return salesforce_emulator


@pytest.fixture
def make_connection(api_server: ApiServer, emu: SalesforceEmulator) -> Iterator[ConnFactory]:
    """Create an ``sf360`` connection for the emulator through the REST API; deleted after the test."""
    made: list[str] = []
    admin = {"Authorization": f"Bearer {api_server.token('admin')}"}

    def make(conn_id: str, **extra: Any) -> str:
        body = {
            "connection_id": conn_id,
            "conn_type": "sf360",
            "login": DEFAULT_CONSUMER_KEY,
            "password": DEFAULT_CONSUMER_SECRET,
            "port": 0,  # workaround for the 3.3.2 Test-button bug (airflow3.md section 5)
            "extra": json.dumps({
                "org_id": DEFAULT_ORG_ID,
                "user_id": DEFAULT_USER_ID,
                "auth_flow": "authorization_code",
                "login_url": emu.login_url,
                "callback_url": api_server.callback_url(),
                **extra,
            }),
        }
        requests.delete(f"{api_server.url}/api/v2/connections/{conn_id}", headers=admin, timeout=30)
        answer = requests.post(f"{api_server.url}/api/v2/connections", json=body, headers=admin, timeout=30)
        assert answer.status_code == 201, answer.text
        made.append(conn_id)
        return conn_id

    yield make
    for conn_id in made:
        _delete_token(conn_id)
        requests.delete(f"{api_server.url}/api/v2/connections/{conn_id}", headers=admin, timeout=30)


def _delete_token(conn_id: str) -> None:
    """Revoke and remove any stored token state so that tests stay independent (best effort)."""
    from airflow.exceptions import AirflowNotFoundException

    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.service.actions import SF360Actions

    with contextlib.suppress(SF360Error, AirflowNotFoundException):
        SF360Actions(conn_id).delete()


# ------------------------------------------------------------------ browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("SF360_REQUIRE_BROWSER"):  # CI installs it: a missing browser is a failure there
            pytest.fail(f"{CHROMIUM} is missing although SF360_REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def admin_page(browser: Any, api_server: ApiServer, emu: SalesforceEmulator) -> Iterator[Any]:
    """A page signed in as admin (the ``_token`` cookie the login form would set); trusts nothing else."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": api_server.token("admin"), "url": api_server.url}])
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
