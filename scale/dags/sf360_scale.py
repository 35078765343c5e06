"""Scale DAG: N mapped tasks, each calling Salesforce through one ``SF360Hook.get_conn()`` client for a while.

Trigger conf (all optional): ``tasks`` (default 32), ``seconds`` each task keeps calling (default 90),
``interval`` between calls (default 0.25 s), ``without_sf360_api_server_url`` (default False: True removes
``[sf360] api_server_url`` from the task process's configuration, for the split layout's negative check).
Tasks have retries so that the run also shows that permanent token errors (revoked) are not retried.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task

CONN_ID = "sf360_scale"


@dag(
    dag_id="sf360_scale",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=256,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
    params={"tasks": 32, "seconds": 90.0, "interval": 0.25, "without_sf360_api_server_url": False},
    tags=["sf360", "scale"],
)
def sf360_scale() -> None:
    @task
    def indexes() -> list[int]:
        return list(range(int(get_current_context()["params"]["tasks"])))

    @task
    def orm_probe() -> bool:
        """True when this task process may not use Airflow's ORM (the Task SDK isolation is in force)."""
        from airflow.utils.session import create_session
        from sqlalchemy import text

        try:
            with create_session() as session:
                session.execute(text("SELECT 1"))
        except RuntimeError as error:
            return "Direct database access" in str(error)
        return False

    @task
    def call_salesforce(index: int) -> dict[str, Any]:
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        params = get_current_context()["params"]
        if params.get("without_sf360_api_server_url"):
            os.environ.pop("AIRFLOW__SF360__API_SERVER_URL", None)
        started = time.time()
        sf = SF360Hook(CONN_ID).get_conn()
        deadline = time.monotonic() + float(params["seconds"])
        calls = 0
        while time.monotonic() < deadline:
            sf.query("SELECT Id FROM Account LIMIT 1")
            calls += 1
            time.sleep(float(params["interval"]))
        renewals = getattr(sf.session, "renewals", 0)
        return {"index": index, "calls": calls, "invalid_session_renewals": renewals,
                "started": started, "ended": time.time()}

    @task
    def total(results: list[dict[str, Any]]) -> dict[str, Any]:
        rows = list(results)
        return {
            "tasks": len(rows),
            "calls": sum(r["calls"] for r in rows),
            "invalid_session_renewals": sum(r["invalid_session_renewals"] for r in rows),
            "first_start": min(r["started"] for r in rows),
            "last_end": max(r["ended"] for r in rows),
        }

    orm_probe()
    total(call_salesforce.expand(index=indexes()))  # type: ignore[arg-type]  # XComArg at parse time


sf360_scale()
