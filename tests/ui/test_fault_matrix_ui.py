"""The fault matrix for the third caller: the Salesforce 360 page's action routes in a real api-server."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.testing import DEFAULT_ORG_ID, SalesforceEmulator
from tests.fault_matrix import MAX_ATTEMPTS, Row, case_params
from tests.helpers.api_server import UI_REQUEST_TIMEOUT, ApiServer
from tests.helpers.connections import ConnFactory
from tests.helpers.lifecycle import expire_cached_token

from .fleet_helpers import set_up_headless, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _prepare(row: Row, api_server: ApiServer, emu: SalesforceEmulator, make_connection: ConnFactory) -> str:
    extra = {"auth_flow": row.flow}
    if row.flow == "client_credentials":
        extra["login_url"] = emu.my_domain_url(DEFAULT_ORG_ID)
    conn_id = make_connection(f"sf360_fault_{row.endpoint}", **extra)
    if row.set_up_first:
        set_up_headless(emu, api_server.callback_url(), conn_id)
    if row.expire_first:
        expire_cached_token(emu, SF360Hook(conn_id))
    return conn_id


# A timeout is told apart by the same code whatever the endpoint (core/http.py); tests/faults waits it out for every
# endpoint from a task and from the CLI. Through the page's routes it is waited out once (the token endpoint), so the
# matrix here keeps every other fault of every endpoint without another minute of timeouts.
UI_CASES = [case for case in case_params() if case.values[1] != "delay" or case.values[0].endpoint == "token"]


@pytest.mark.parametrize(("row", "fault"), UI_CASES)
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
    expected = row.expected_tries(fault, MAX_ATTEMPTS)

    def tries() -> int:
        return emu.request_counts().get(row.endpoint, 0) - before.get(row.endpoint, 0)

    if fault == "delay":  # the emulator counts a delayed request when it finally answers
        wait_for(lambda: tries() >= expected, timeout=UI_REQUEST_TIMEOUT + 10)
    assert tries() == expected
    if row.expects_success(fault):
        assert 'role="alert"' not in answer.text
    else:
        assert 'role="alert"' in answer.text and row.message in answer.text
        assert row.expected_message(fault, MAX_ATTEMPTS) in answer.text
        after = SF360Hook(conn_id).lifecycle.store.load()
        if after is not None and before_state is not None and row.endpoint == "token":  # a renewal that failed
            assert after.last_failure and row.expected_message(fault, MAX_ATTEMPTS) in after.last_failure
            after = replace(after, last_failure=before_state.last_failure, last_failure_at=before_state.last_failure_at)
        assert after == before_state  # nothing corrupted or lost
