"""Cold pods: N mapped tasks that share nothing but the api-server and the metadata DB, each getting a token.

Each task stands for a fresh Kubernetes pod: before it touches the provider it points ``TMPDIR`` (and Python's
``tempfile``) at a directory of its own, so no file lock is shared with any other task, and it has no token in
memory. It then builds ``SF360Hook(conn_id).get_conn()`` for a JWT bearer connection and for a client credentials
connection and makes one call with each. Trigger conf: ``pods`` (default 8) and ``start_at`` (epoch seconds, default
0): each pod waits until then before it touches the provider, so that pods already running start together, as pods
of a real cluster do (at most 120 s).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from airflow.sdk import dag, get_current_context, task

MACHINE_CONN_IDS = ("sf360_jwt", "sf360_cc")


@dag(
    dag_id="sf360_cold_pods",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=256,
    params={"pods": 8, "start_at": 0.0},
    tags=["sf360", "scale"],
)
def sf360_cold_pods() -> None:
    @task
    def pod_indexes() -> list[int]:
        return list(range(int(get_current_context()["params"]["pods"])))

    @task
    def cold_pod(index: int) -> dict[str, Any]:
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        own_tmp = tempfile.mkdtemp(prefix=f"sf360-pod-{index}-")
        os.environ["TMPDIR"] = own_tmp
        tempfile.tempdir = own_tmp  # this "pod" shares no lock directory with any other
        wait = float(get_current_context()["params"]["start_at"]) - time.time()
        time.sleep(min(max(wait, 0.0), 120.0))
        calls = {}
        for conn_id in MACHINE_CONN_IDS:
            sf = SF360Hook(conn_id).get_conn()
            calls[conn_id] = len(sf.query("SELECT Id FROM Account LIMIT 1")["records"])
        return {"index": index, "pid": os.getpid(), "tmpdir": own_tmp, "records": calls, "began": time.time() - wait}

    cold_pod.expand(index=pod_indexes())


sf360_cold_pods()
