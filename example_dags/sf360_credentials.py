"""Manage an ``sf360`` connection's OAuth token from a DAG: trigger it with a conn id and an action.

Actions: ``setup``, ``reset``, ``test_access``, ``delete``. For the ``authorization_code`` flow, ``setup``
without an authorization response fails with the URL to open; sign in, then trigger again with the URL
Salesforce redirected to in ``authorization_response``. (The "Salesforce 360" UI page and the ``sf360`` CLI
do both halves for you.)
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

ACTIONS = ["test_access", "setup", "reset", "delete"]

with DAG(
    dag_id="sf360_credentials",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["salesforce", "sf360"],
    doc_md=__doc__,
    params={
        "sf360_conn_id": Param("sf360_default", type="string", title="Connection id (type sf360)"),
        "action": Param("test_access", type="string", enum=ACTIONS, title="Action"),
        "setup_again": Param(False, type="boolean", title="Reset: set up again in one step (rotation)"),
        "authorization_response": Param(
            None, type=["null", "string"], title="Setup (authorization_code): URL Salesforce redirected to"
        ),
    },
):

    @task(task_id="run_action")
    def run_action(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_sf360.service import SF360Actions

        assert params is not None
        actions = SF360Actions(params["sf360_conn_id"])  # audited as this task
        action = params["action"]
        if action == "setup":
            result = actions.setup(authorization_response=params.get("authorization_response"))
        elif action == "reset":
            result = actions.reset(setup_again=bool(params.get("setup_again")))
        elif action == "delete":
            result = actions.delete()
        else:
            result = actions.test_access()
        print(result.message)
        if result.details.get("authorize_url"):
            print(f"Open this URL to authorize: {result.details['authorize_url']}")
        if not result.ok:
            raise AirflowFailException(result.message)
        return result.to_dict()

    run_action()
