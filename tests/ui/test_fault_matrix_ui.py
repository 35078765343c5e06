"""The fault matrix for the third caller: the Salesforce 360 page's action routes in a real api-server."""

from __future__ import annotations

import re
import time

import pytest

from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.testing import DEFAULT_ORG_ID, SalesforceEmulator
from tests.fault_matrix import CASE_IDS, CASES, MAX_ATTEMPTS, Row
from tests.helpers.api_server import UI_REQUEST_TIMEOUT, ApiServer
from tests.helpers.connections import ConnFactory
from tests.helpers.lifecycle import expire_cached_token

pytestmark = pytest.mark.timeout(120)


def _prepare(row: Row, api_server: ApiServer, emu: SalesforceEmulator, make_connection: ConnFactory) -> str:
    extra = {"auth_flow": row.flow}
    if row.flow == "client_credentials":
        extra["login_url"] = emu.my_domain_url(DEFAULT_ORG_ID)
    conn_id = make_connection(f"sf360_fault_{row.endpoint}", **extra)
    hook = SF360Hook(conn_id)
    if row.set_up_first:
        url = hook.authorization_url(redirect_uri=api_server.callback_url())
        assert hook.complete_authorization(emu.authorize_headless(url)).ok
    if row.expire_first:
        expire_cached_token(emu, hook)
    return conn_id


@pytest.mark.parametrize(("row", "fault"), CASES, ids=CASE_IDS)
def test_fault_matrix_ui_route(row: Row, fault: str, api_server: ApiServer, emu: SalesforceEmulator,
                               make_connection: ConnFactory) -> None:
    conn_id = _prepare(row, api_server, emu, make_connection)
    before_state = SF360Hook(conn_id).lifecycle.store.load()
    admin = api_server.session("admin")
    page = admin.get(f"{api_server.url}/sf360/", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    before = emu.request_counts()
    emu.inject_fault(row.endpoint, fault, count=50, seconds=UI_REQUEST_TIMEOUT + 1)
    answer = admin.post(f"{api_server.url}/sf360/connections/{conn_id}/{row.action}",
                        data={"csrf_token": csrf.group(1)}, timeout=90)
    assert answer.status_code == 200, answer.text[:500]
    if fault == "delay":
        time.sleep(1.5)  # the emulator counts a delayed request when it finally answers
    tries = emu.request_counts().get(row.endpoint, 0) - before.get(row.endpoint, 0)
    assert tries == row.expected_tries(fault, MAX_ATTEMPTS)
    if row.expects_success(fault):
        assert 'role="alert"' not in answer.text
    else:
        assert 'role="alert"' in answer.text and row.message in answer.text
        assert row.expected_message(fault, MAX_ATTEMPTS) in answer.text
        assert SF360Hook(conn_id).lifecycle.store.load() == before_state
