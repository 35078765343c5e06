"""`make demo`: the whole lifecycle on the built-in Salesforce emulator, in a fresh local Airflow home.

Set up (web server flow with PKCE, the emulator playing the person who clicks Allow), test access, the
sync DAG (3,000 Accounts through Bulk API 2.0), reset (fields intact), delete. Everything runs in this
process (the emulator on 127.0.0.1 threads); nothing is left running afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.testing.airflow_home import use_temporary_airflow_home

REPO = Path(__file__).resolve().parent.parent
CONN_ID = "sf360_default"


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show(result: Any) -> None:
    data = result.to_dict() if hasattr(result, "to_dict") else result
    print(json.dumps({k: v for k, v in data.items() if k != "token"}, indent=2, default=str))


def prepare_airflow_home() -> Path:
    home = use_temporary_airflow_home(REPO / "example_dags", prefix="sf360_demo_")
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    step(f"Fresh Airflow home {home}: a new metadata DB")
    from airflow.utils import db

    with contextlib.redirect_stdout(io.StringIO()):
        db.resetdb()
    return home


def add_connection(emulator: Any, world: Any) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    extra = {"org_id": world.DEFAULT_ORG_ID.lower(), "user_id": world.DEFAULT_USER_ID[:15],
             "is_sandbox": False, "auth_flow": "authorization_code", "login_url": emulator.login_url,
             "callback_url": world.DEFAULT_CALLBACK_URLS[0]}
    step(f"Connection {CONN_ID} (Org ID typed in lower case, User ID in 15 characters), as "
         f"`airflow connections add {CONN_ID} --conn-type {CONN_TYPE} --conn-login ... --conn-extra ...` makes it")
    with create_session() as session:
        session.add(Connection(conn_id=CONN_ID, conn_type=CONN_TYPE, login=world.DEFAULT_CONSUMER_KEY,
                               password=world.DEFAULT_CONSUMER_SECRET, extra=json.dumps(extra)))


def run_sync_dag() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "example_dags" / "sf360_sync.py")).dags["sf360_sync"]
    run = dag.test(run_conf={"sf360_conn_id": CONN_ID})
    print(f"sf360_sync finished: {run.state}")
    if str(run.state) != "success":
        raise SystemExit("the sync DAG failed")


def main() -> int:
    home = prepare_airflow_home()
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.service import SF360Actions
    from airflow_provider_sf360.service.audit import AirflowAuditLog
    from airflow_provider_sf360.testing import SalesforceEmulator
    from airflow_provider_sf360.testing import config as world

    with SalesforceEmulator() as emulator:
        os.environ["REQUESTS_CA_BUNDLE"] = emulator.ca_bundle
        print(f"Salesforce emulator: login host {emulator.login_url}, CA {emulator.ca_bundle}")
        add_connection(emulator, world)
        actions = SF360Actions(CONN_ID, audit=AirflowAuditLog.for_user("demo", "cli"))  # each action audited
        step("Validated credentials (canonical 18-character IDs)")
        print(json.dumps(actions.hook.credentials.describe(), indent=2))

        step("Set up the OAuth token (web server flow, PKCE S256; the emulator clicks Allow)")
        url = actions.start_authorization()
        print(f"authorize URL: {url.split('?')[0]}?… (state and code_challenge; the verifier stays server-side)")
        show(actions.complete_authorization(emulator.authorize_headless(url)))

        step("Test access")
        show(actions.test_access())

        step("Sync DAG: upsert 3,000 Accounts with Bulk API 2.0, then count them (dag.test())")
        run_sync_dag()

        step("Reset: token revoked and cleared, every connection field kept")
        show(actions.reset())
        print("fields after reset:", json.dumps(SF360Hook(CONN_ID).credentials.describe()))
        step("Test access after reset asks to set up the OAuth token")
        show(actions.test_access())

        step("Set up again, then delete: tokens revoked at Salesforce and removed")
        actions.complete_authorization(emulator.authorize_headless(actions.start_authorization()))
        show(actions.delete())
        counts = emulator.request_counts()
        step("Salesforce requests made during the demo")
        print(json.dumps(counts, indent=2, sort_keys=True))
    shutil.rmtree(home, ignore_errors=True)
    print("\nDemo finished; the emulator is stopped and the temporary Airflow home removed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
