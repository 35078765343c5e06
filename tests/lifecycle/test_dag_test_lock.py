"""``dag.test()`` runs tasks in this process, next to the metadata DB: the hook then renews under the metadata-DB
credential lock with ``MetadataDbVariables`` (as the api-server does), not through the api-server; ``[sf360]
renewal = api_server`` still forces the worker path. A real DAG, a real renewal against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, actions_for, expire_cached_token, set_up_web_flow

pytestmark = pytest.mark.slow

PROBE_DAG = """
import pendulum
from airflow.sdk import DAG, task

with DAG("sf360_lock_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         params={"conn": "sf360_default", "query": True}):

    @task(task_id="probe")
    def probe(params=None):
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        hook = SF360Hook(params["conn"])
        done = hook.get_conn().query("SELECT Id FROM Account LIMIT 1")["done"] if params["query"] else None
        return {
            "in_task": hook.in_task,
            "has_metadata_db": hook.has_metadata_db,
            "variables": type(hook.variables).__name__,
            "lock": type(hook.lifecycle.lock).__name__,
            "renewer": type(hook.lifecycle.renewer).__name__,
            "done": done,
        }

    probe()
"""


def _run_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conf: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    (tmp_path / "sf360_lock_probe.py").write_text(PROBE_DAG)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))  # dag.test() serializes the dags-folder bundle
    bag = DagBag(dag_folder=str(tmp_path / "sf360_lock_probe.py"))
    assert not bag.import_errors, bag.import_errors
    run = bag.dags["sf360_lock_probe"].test(run_conf=conf)
    with create_session() as session:
        row = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.key == "return_value").one()
        return str(run.state), row.value


def test_dag_test_renews_in_process_under_the_metadata_db_lock(
    emulator: SalesforceEmulator, make_connection: ConnFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions = actions_for(make_connection("authorization_code", conn_id="sf360_dag_test_lock"))
    set_up_web_flow(emulator, actions)
    expire_cached_token(emulator, actions)  # the task's first call must renew
    before = actions.hook.lifecycle.store.load()
    grants = emulator.request_counts().get("token:refresh_token", 0)

    state, probe = _run_probe(tmp_path, monkeypatch, {"conn": actions.conn_id, "query": True})

    assert state == "success"
    assert probe == {"in_task": True, "has_metadata_db": True, "variables": "MetadataDbVariables",
                     "lock": "DatabaseCredentialLock", "renewer": "LockingRenewer", "done": True}
    assert emulator.request_counts()["token:refresh_token"] == grants + 1  # renewed once, in the task itself
    after = actions.hook.lifecycle.store.load()  # written straight to the metadata DB
    assert before is not None and after is not None
    assert after.access_token != before.access_token and after.refresh_used_at > before.refresh_used_at
    assert emulator.world.access_token_alive(after.access_token) is not None
    assert emulator.holdings()["reuse_detections"] == 0


def test_renewal_api_server_still_forces_the_worker_path_under_dag_test(
    emulator: SalesforceEmulator, make_connection: ConnFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = make_connection("authorization_code", conn_id="sf360_dag_test_forced")
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    state, probe = _run_probe(tmp_path, monkeypatch, {"conn": conn_id, "query": False})
    assert state == "success"
    assert probe == {"in_task": True, "has_metadata_db": False, "variables": "TaskVariables",
                     "lock": "HostCredentialLock", "renewer": "ApiServerRenewer", "done": None}
