"""Work done by each parallel task in the rotation test: API calls through one hook for a while."""

from __future__ import annotations

import time


def call_salesforce_for(conn_id: str, seconds: float) -> dict[str, int]:
    """Query Salesforce in a loop through ``SF360Hook.get_conn()``; count calls and failures."""
    from airflow_provider_sf360.core.retry import RetryPolicy
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    hook = SF360Hook(conn_id, retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2))
    calls = failures = 0
    deadline = time.monotonic() + seconds
    sf = hook.get_conn()
    while time.monotonic() < deadline:
        try:
            sf.query("SELECT Id FROM Account LIMIT 1")
            calls += 1
        except Exception as error:  # counted, reported by the test
            failures += 1
            print(f"worker failure: {type(error).__name__}: {error}")
        time.sleep(0.02)
    return {"calls": calls, "failures": failures}
