"""Hourly connectivity check: tests Salesforce access of an ``sf360`` connection and fails loudly with the reason.

The task fails (without retries for permanent causes such as a revoked token) with a message that says
which case it is: not set up, revoked or expired, identity mismatch (e.g. a refreshed sandbox), or
Salesforce unreachable; and what to do about it.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_sf360.operators.oauth import SF360TestAccessOperator

with DAG(
    dag_id="sf360_connectivity_check",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["salesforce", "sf360"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={"sf360_conn_id": Param("sf360_default", type="string", title="Connection id (type sf360)")},
):
    SF360TestAccessOperator(task_id="test_access", sf360_conn_id="{{ params.sf360_conn_id }}")
