"""Many tasks on one credential with refresh token rotation on and a short session timeout.

Threads and separate processes share the token through the Variable store and the credential lock:
no task may ever redeem a refresh token another one already redeemed (Salesforce would revoke the family).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, hook_for, set_up_web_flow
from tests.lifecycle.parallel_worker import call_salesforce_for

pytestmark = pytest.mark.slow

SESSION_TIMEOUT = 3
RUN_SECONDS = 8.0
THREADS = 8
PROCESSES = 4


def test_parallel_tasks_never_reuse_a_rotated_refresh_token(emulator: SalesforceEmulator,
                                                            make_connection: ConnFactory) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, rotation=True, session_timeout=SESSION_TIMEOUT)
    conn_id = make_connection("authorization_code")
    assert set_up_web_flow(emulator, hook_for(conn_id)).ok
    before = emulator.request_counts().get("token:refresh_token", 0)

    started = time.monotonic()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=spawn) as processes, ThreadPoolExecutor(THREADS) as threads:
        futures = [processes.submit(call_salesforce_for, conn_id, RUN_SECONDS) for _ in range(PROCESSES)]
        futures += [threads.submit(call_salesforce_for, conn_id, RUN_SECONDS) for _ in range(THREADS)]
        results = [f.result(timeout=120) for f in futures]

    elapsed = time.monotonic() - started  # includes starting the processes
    refreshes = emulator.request_counts().get("token:refresh_token", 0) - before
    calls = sum(r["calls"] for r in results)
    failures = sum(r["failures"] for r in results)
    print(f"\n{len(results)} tasks, {calls} API calls, {failures} failures, {refreshes} refresh-token grants, "
          f"{emulator.reuse_detections} reuse detections in {elapsed:.1f} s "
          f"(session timeout {SESSION_TIMEOUT} s)")
    assert emulator.reuse_detections == 0
    assert failures == 0
    assert calls > 100
    # About one renewal per session lifetime (renewed at 80 % of it), plus a small constant. Salesforce's
    # introspection gives the expiry in whole seconds, so a token may look up to a second shorter-lived.
    assert refreshes <= elapsed / ((SESSION_TIMEOUT - 1) * 0.8) + 3
    assert actions_for(conn_id).test_access().ok
