"""Every endpoint x every fault, for two callers in this process: a task (the operators) and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.fault_matrix import DELAY_SECONDS, MAX_ATTEMPTS, Row, case_params
from tests.helpers.lifecycle import ConnFactory, actions_for, expire_cached_token, set_up_web_flow


def _prepare(row: Row, emulator: SalesforceEmulator, make_connection: ConnFactory) -> str:
    conn_id = make_connection(row.flow, conn_id=f"fault_{row.endpoint}")
    actions = actions_for(conn_id)
    if row.set_up_first:
        set_up_web_flow(emulator, actions) if row.flow == "authorization_code" else actions.setup()
    if row.expire_first:
        expire_cached_token(emulator, actions)
    return conn_id


def _inject(emulator: SalesforceEmulator, row: Row, fault: str) -> dict[str, int]:
    emulator.inject_fault(row.endpoint, fault, count=50, seconds=DELAY_SECONDS)
    return emulator.request_counts()


def _run_task(row: Row, conn_id: str) -> tuple[bool, str]:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.operators.oauth import (
        SF360ResetOAuthOperator,
        SF360SetupOAuthOperator,
        SF360TestAccessOperator,
    )

    operator_class: dict[str, Callable[..., Any]] = {
        "setup": SF360SetupOAuthOperator, "reset": SF360ResetOAuthOperator, "test": SF360TestAccessOperator}
    operator = operator_class[row.action](task_id=f"fault_{row.action}", sf360_conn_id=conn_id)
    try:
        result = operator.execute({})
    except (AirflowFailException, SF360Error) as error:
        return False, str(error)
    return True, json.dumps(result)


def _run_cli(row: Row, conn_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[bool, str]:
    from airflow_provider_sf360.cli.main import main

    code = main([row.action, conn_id, "--json"])
    out = capsys.readouterr()
    return code == 0, out.out + out.err


@pytest.mark.parametrize("caller", ["task", "cli"])
@pytest.mark.parametrize(("row", "fault"), case_params())
def test_fault_matrix(row: Row, fault: str, caller: str, emulator: SalesforceEmulator,
                      make_connection: ConnFactory, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")  # the CLI runs as a server-side process
    conn_id = _prepare(row, emulator, make_connection)
    before_state = SF360Hook(conn_id).lifecycle.store.load()
    before = _inject(emulator, row, fault)
    ok, text = _run_task(row, conn_id) if caller == "task" else _run_cli(row, conn_id, capsys)
    if fault == "delay":
        time.sleep(DELAY_SECONDS - 1)  # the emulator counts a delayed request when it finally answers
    tries = emulator.request_counts().get(row.endpoint, 0) - before.get(row.endpoint, 0)
    assert ok is row.expects_success(fault), text
    assert tries == row.expected_tries(fault, MAX_ATTEMPTS)  # bounded: no retry storm, no early give-up
    if not ok:
        assert row.message in text
        assert row.expected_message(fault, MAX_ATTEMPTS) in text
        after = SF360Hook(conn_id).lifecycle.store.load()
        if after is not None and before_state is not None and row.endpoint == "token":  # a renewal that failed
            assert after.last_failure and row.expected_message(fault, MAX_ATTEMPTS) in after.last_failure
            after = replace(after, last_failure=before_state.last_failure, last_failure_at=before_state.last_failure_at)
        assert after == before_state  # nothing corrupted or lost
