"""Benchmark 1: Salesforce requests per task to get a client and make one API call, cold and warm.

A "task" is what a new task process does: build a fresh hook, ``get_conn()``, run one SOQL query. Cold: no
token stored (our token Variable deleted first); warm: a token from an earlier task is stored and valid.
The community ``SalesforceHook`` keeps nothing between hook instances, so its cold and warm tasks are alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _env
from bench._table import Table, median, ms, per_task

AUTH_ENDPOINTS = ("identity", "userinfo", "introspect", "revoke")


def _ours(conn_id: str) -> Callable[[Any], None]:
    def task(emu: Any) -> None:
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        SF360Hook(sf360_conn_id=conn_id).get_conn().query(_env.QUERY)

    return task


def _community(conn_id: str) -> Callable[[Any], None]:
    def task(emu: Any) -> None:
        from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

        # The hook's own ``session=`` argument carries the emulator's routing session: no patching.
        SalesforceHook(salesforce_conn_id=conn_id, session=emu.requests_session()).get_conn().query(_env.QUERY)

    return task


def _forget_our_token(conn_id: str) -> None:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    SF360Hook(sf360_conn_id=conn_id).lifecycle.store.clear()


def _measure(emu: Any, task: Callable[[Any], None], runs: int, before_each: Callable[[], None] | None) -> list[Any]:
    """Run the task ``runs`` times; return [token, other auth, API, total, median seconds]."""
    totals: dict[str, int] = {}
    times = []
    for _ in range(runs):
        if before_each:
            before_each()
        start_counts = emu.request_counts()
        started = time.perf_counter()
        task(emu)
        times.append(time.perf_counter() - started)
        for key, value in _env.counts_delta(start_counts, emu.request_counts()).items():
            totals[key] = totals.get(key, 0) + value
    token = totals.get("token", 0)
    auth = sum(totals.get(key, 0) for key in AUTH_ENDPOINTS)
    api = totals.get("rest", 0) + totals.get("bulk", 0)
    return [token, auth, api, token + auth + api, median(times)]


def run(runs: int = 5, with_community: bool = True) -> Table:
    """Cold and warm tasks for our hook and (if installed) the community hook, JWT and client credentials."""
    table = Table(
        "1. Salesforce requests per task (fresh hook, get_conn(), one SOQL query)",
        ["Hook", "Flow", "Token state", "Token requests / task", "Other auth requests / task",
         "API requests / task", "Total / task", "Median wall ms / task"],
    )
    cases: list[tuple[str, str, str, Callable[[Any], None], str | None]] = [
        ("sf360 `SF360Hook`", "JWT bearer", "", _ours(_env.JWT_CONN_ID), _env.JWT_CONN_ID),
        ("sf360 `SF360Hook`", "client credentials", "", _ours(_env.CC_CONN_ID), _env.CC_CONN_ID),
    ]
    if with_community:
        cases += [
            ("community `SalesforceHook`", "JWT bearer", "", _community(_env.COMMUNITY_JWT_CONN_ID), None),
            ("community `SalesforceHook`", "client credentials", "", _community(_env.COMMUNITY_CC_CONN_ID), None),
        ]
    with _env.emulator() as emu:
        for hook, flow, _, task, our_conn in cases:
            task(emu)  # warm-up: imports, TLS, and (for us) a stored token
            forget = (lambda c=our_conn: _forget_our_token(c)) if our_conn else None
            for state, before in (("cold", forget), ("warm", None)):
                token, auth, api, total, seconds = _measure(emu, task, runs, before)
                table.add(hook, flow, state, per_task(token, runs), per_task(auth, runs), per_task(api, runs),
                          per_task(total, runs), ms(seconds))
    table.notes += [
        f"{runs} tasks per row, counted by the emulator (endpoint `token` = `/services/oauth2/token`; other auth = "
        "identity, userinfo, introspect, revoke). Tasks are fresh hook instances in one process, like new task "
        "processes: our hook keeps no in-process token cache between hook instances, only the Airflow Variable.",
        "Cold for sf360 = its token Variable deleted before each task. The community hook keeps no token, so every "
        "task logs in (its cold and warm rows are the same measurement twice).",
        "Client credentials with a Consumer Secret: sf360 reads the real token expiry by introspection once per new "
        "token (the `introspect` request in the cold row). JWT without a secret: no introspection.",
        "Wall times are against an in-process emulator on 127.0.0.1 (a token request costs ~1 ms here, "
        "typically 100-300 ms against real Salesforce); sf360 times include its Variable read/write in the SQLite "
        "metadata DB and, when cold, the host lock (JWT and client credentials take no cross-host lock; no "
        "renewal path sleeps).",
    ]
    return table


if __name__ == "__main__":
    _env.prepare_airflow_home()
    have_community = _env.ensure_compared_provider()
    _env.migrate_db()
    try:
        print(run(with_community=have_community).to_markdown())
    finally:
        _env.cleanup()
