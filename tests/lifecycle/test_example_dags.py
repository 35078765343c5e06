"""The example DAGs run for real with ``dag.test()``; then nothing they produced may contain a secret."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, hook_for, set_up_web_flow
from tests.helpers.paths import REPO_ROOT

pytestmark = pytest.mark.slow

DAGS = REPO_ROOT / "example_dags"


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def _run(dag_id: str, conf: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run a DAG in-process; return its state and the tasks' return values."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = _dag(dag_id)
    run = dag.test(run_conf=conf)
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.key == "return_value").all()
        xcoms = {row.task_id: row.value for row in rows}
    return str(run.state), xcoms


def _everything_written(capfd: pytest.CaptureFixture[str], extra_texts: list[str]) -> str:
    out, err = capfd.readouterr()
    logs = [p.read_text(errors="replace") for p in Path(os.environ["AIRFLOW_HOME"]).rglob("*.log")]
    return "\n".join([out, err, *logs, *extra_texts])


def _secrets_used(emulator: SalesforceEmulator) -> list[str]:
    key_body = "".join(emulator.jwt_private_key_pem.splitlines()[1:-2])
    return [world.DEFAULT_CONSUMER_SECRET, key_body, *emulator.world.refresh_tokens, *emulator.world.access_tokens]


def test_example_dags_parse_fast() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors
    assert {"sf360_connectivity_check", "sf360_credentials", "sf360_sync"} <= set(bag.dag_ids)


def test_connectivity_check_sync_and_credentials_dags(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("authorization_code")
    set_up_web_flow(emulator, hook_for(conn_id))
    conf = {"sf360_conn_id": conn_id}

    state, xcoms = _run("sf360_connectivity_check", conf)
    assert state == "success"
    assert xcoms["test_access"]["ok"] and xcoms["test_access"]["username"] == world.DEFAULT_USERNAME

    state, xcoms = _run("sf360_sync", conf)
    assert state == "success"
    assert xcoms["upsert_accounts"] == {"processed": 3000, "failed": 0}
    assert xcoms["check_count"] == 3000

    state, xcoms = _run("sf360_credentials", {**conf, "action": "reset"})
    assert state == "success" and xcoms["run_action"]["status"] == "not_set_up"
    assert hook_for(conn_id).credentials.org_id == world.DEFAULT_ORG_ID  # fields intact

    state, _ = _run("sf360_connectivity_check", conf)
    assert state == "failed"  # not set up: fails loudly
    texts = [str(x) for x in xcoms.values()]
    written = _everything_written(capfd, texts)
    assert "No OAuth token is set up" in written
    for secret in _secrets_used(emulator):
        assert secret not in written


def test_credentials_dag_sets_up_a_machine_flow_inside_a_task(emulator: SalesforceEmulator,
                                                               make_connection: ConnFactory,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("jwt_bearer", conn_id="sf360_jwt")
    state, xcoms = _run("sf360_credentials", {"sf360_conn_id": conn_id, "action": "setup"})
    assert state == "success" and xcoms["run_action"]["ok"]
    state, xcoms = _run("sf360_credentials", {"sf360_conn_id": conn_id, "action": "delete"})
    assert state == "success" and xcoms["run_action"]["token_removed"]
    written = _everything_written(capfd, [str(x) for x in xcoms.values()])
    for secret in _secrets_used(emulator):
        assert secret not in written


def test_revoked_token_fails_the_check_with_the_reason(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("authorization_code")
    hook = hook_for(conn_id)
    set_up_web_flow(emulator, hook)
    emulator.revoke_user_tokens(world.DEFAULT_USER_ID)
    state, _ = _run("sf360_connectivity_check", {"sf360_conn_id": conn_id})
    assert state == "failed"
    written = _everything_written(capfd, [])
    assert "Set up the OAuth token again" in written or "set up the OAuth token again" in written
    for secret in _secrets_used(emulator):
        assert secret not in written
