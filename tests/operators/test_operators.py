"""Every operator runs against the emulator: what it returns, how it fails, and what Salesforce holds after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.operators.oauth import (
    SF360DeleteOAuthOperator,
    SF360ResetOAuthOperator,
    SF360SetupOAuthOperator,
    SF360TestAccessOperator,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, set_up_web_flow

CONTEXT: Any = {}  # the operators read nothing from the task context


def _live_tokens(emulator: SalesforceEmulator) -> tuple[int, int]:
    """(live approvals, live access tokens) Salesforce holds for the default user and app."""
    entries = [e for e in emulator.holdings()["by_user_app"]
               if e["user_id"] == world.DEFAULT_USER_ID and e["consumer_key"] == world.DEFAULT_CONSUMER_KEY]
    return (entries[0]["live_approvals"], entries[0]["live_access_tokens"]) if entries else (0, 0)


def _assert_no_secret(emulator: SalesforceEmulator, xcom: dict[str, Any]) -> None:
    text = json.dumps(xcom)
    for secret in [world.DEFAULT_CONSUMER_SECRET, *emulator.world.access_tokens, *emulator.world.refresh_tokens]:
        assert secret not in text


def test_setup_operator_machine_flow(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("jwt_bearer")
    xcom = SF360SetupOAuthOperator(task_id="setup", sf360_conn_id=conn_id).execute(CONTEXT)
    assert xcom["ok"] and xcom["status"] == "active" and xcom["action"] == "setup"
    assert emulator.request_counts()["token:jwt_bearer"] == 1
    assert _live_tokens(emulator)[1] == 1
    assert SF360Hook(conn_id).status()["status"] == "active"
    _assert_no_secret(emulator, xcom)


def test_setup_operator_web_flow_needs_the_authorization_response(emulator: SalesforceEmulator,
                                                                   make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    with pytest.raises(AirflowFailException, match=r"URL: https://127\.0\.0\.1:\d+/services/oauth2/authorize\?"):
        SF360SetupOAuthOperator(task_id="setup", sf360_conn_id=conn_id).execute(CONTEXT)
    assert "token:authorization_code" not in emulator.request_counts()

    redirect = emulator.authorize_headless(actions_for(conn_id).start_authorization())
    xcom = SF360SetupOAuthOperator(task_id="setup", sf360_conn_id=conn_id,
                                   authorization_response=redirect).execute(CONTEXT)
    assert xcom["ok"] and xcom["status"] == "active"
    assert emulator.request_counts()["token:authorization_code"] == 1
    assert _live_tokens(emulator) == (1, 1)
    _assert_no_secret(emulator, xcom)


def test_test_access_operator(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    with pytest.raises(AirflowFailException, match=r"(?i)set up"):  # permanent: no retries
        SF360TestAccessOperator(task_id="test", sf360_conn_id=conn_id).execute(CONTEXT)
    set_up_web_flow(emulator, actions_for(conn_id))
    xcom = SF360TestAccessOperator(task_id="test", sf360_conn_id=conn_id).execute(CONTEXT)
    assert xcom["ok"] and xcom["username"] == world.DEFAULT_USERNAME and xcom["org_id"] == world.DEFAULT_ORG_ID
    assert emulator.request_counts()["rest"] >= 1
    _assert_no_secret(emulator, xcom)


def test_test_access_operator_fails_on_a_revoked_token(emulator: SalesforceEmulator,
                                                        make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    set_up_web_flow(emulator, actions_for(conn_id))
    emulator.revoke_user_tokens(world.DEFAULT_USER_ID)
    with pytest.raises(AirflowFailException, match=r"(?i)set up the OAuth token again"):
        SF360TestAccessOperator(task_id="test", sf360_conn_id=conn_id).execute(CONTEXT)


def test_reset_operator_keeps_the_fields(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    set_up_web_flow(emulator, actions_for(conn_id))
    assert _live_tokens(emulator) == (1, 1)
    fields_before = SF360Hook(conn_id).credentials.describe()

    xcom = SF360ResetOAuthOperator(task_id="reset", sf360_conn_id=conn_id).execute(CONTEXT)
    assert xcom["ok"] and xcom["action"] == "reset"
    assert _live_tokens(emulator) == (0, 0)  # revoked at Salesforce
    assert SF360Hook(conn_id).status()["status"] == "not_set_up"
    assert SF360Hook(conn_id).credentials.describe() == fields_before


def test_reset_operator_setup_again_rotates(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("jwt_bearer")
    actions_for(conn_id).setup()
    first = SF360Hook(conn_id).lifecycle.store.load()
    xcom = SF360ResetOAuthOperator(task_id="rotate", sf360_conn_id=conn_id, setup_again=True).execute(CONTEXT)
    assert xcom["ok"] and xcom["status"] == "active"
    second = SF360Hook(conn_id).lifecycle.store.load()
    assert first is not None and second is not None and second.access_token != first.access_token
    assert emulator.request_counts()["token:jwt_bearer"] == 2
    assert emulator.world.access_token_alive(first.access_token) is None


def test_delete_operator_revokes_and_removes(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    set_up_web_flow(emulator, actions_for(conn_id))
    assert _live_tokens(emulator) == (1, 1)

    xcom = SF360DeleteOAuthOperator(task_id="delete", sf360_conn_id=conn_id).execute(CONTEXT)
    assert xcom["ok"] and xcom["action"] == "delete"
    assert _live_tokens(emulator) == (0, 0)  # access and refresh tokens revoked at Salesforce
    assert emulator.request_counts()["revoke"] >= 1
    assert SF360Hook(conn_id).lifecycle.store.load() is None
    with pytest.raises(AirflowFailException):
        SF360TestAccessOperator(task_id="test", sf360_conn_id=conn_id).execute(CONTEXT)


OPERATORS_DAG = """
import pendulum
from airflow.sdk import DAG

from airflow_provider_sf360.operators.oauth import (
    SF360DeleteOAuthOperator, SF360ResetOAuthOperator, SF360SetupOAuthOperator, SF360TestAccessOperator)

with DAG("sf360_operators", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         params={"conn": "sf360_default"}):
    conn = "{{ params.conn }}"  # templated
    (SF360SetupOAuthOperator(task_id="setup", sf360_conn_id=conn)
     >> SF360TestAccessOperator(task_id="test_access", sf360_conn_id=conn)
     >> SF360ResetOAuthOperator(task_id="rotate", sf360_conn_id=conn, setup_again=True)
     >> SF360DeleteOAuthOperator(task_id="delete", sf360_conn_id=conn))
"""
TASKS = ("setup", "test_access", "rotate", "delete")


@pytest.mark.slow  # dag.test()
def test_every_operator_in_one_dag_test(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Setup, test access, rotate and delete as real tasks (Task SDK, templated conn id, XComs)."""
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    (tmp_path / "sf360_operators.py").write_text(OPERATORS_DAG)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))  # dag.test() serializes the dags-folder bundle
    conn_id = make_connection("jwt_bearer", conn_id="sf360_operators_dag")
    bag = DagBag(dag_folder=str(tmp_path / "sf360_operators.py"))
    assert not bag.import_errors, bag.import_errors
    run = bag.dags["sf360_operators"].test(run_conf={"conn": conn_id})
    assert str(run.state) == "success"
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.key == "return_value")
        xcoms = {row.task_id: row.value for row in rows}
    assert {task: xcoms[task]["ok"] for task in TASKS} == dict.fromkeys(TASKS, True)
    assert xcoms["test_access"]["conn_id"] == conn_id
    assert emulator.request_counts()["token:jwt_bearer"] == 2  # setup, then the rotation
    assert _live_tokens(emulator) == (0, 0)
    _assert_no_secret(emulator, xcoms)
