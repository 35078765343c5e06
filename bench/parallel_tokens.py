"""Benchmark 4: token-endpoint requests for N parallel tasks over one session lifetime.

The emulator's Connected App gets a short session timeout. N threads (one process; each thread stands for a
task: it builds its own hook, ``get_conn()``, then makes one SOQL call every ``interval`` seconds) start
together with no token stored and run for the window, which crosses exactly one token expiry. Token requests
are counted by grant; 401s are REST calls Salesforce refused with ``INVALID_SESSION_ID``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _env
from bench._table import Table, median, ms


@dataclass
class TaskStats:
    """What one task thread saw."""

    calls: int = 0
    start_latency: float = 0.0
    worst_call: float = 0.0
    errors: list[str] = field(default_factory=list)


def _client_factory(hook: str, conn_id: str, emu: Any) -> Callable[[], Any]:
    if hook == "sf360":
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        return lambda: SF360Hook(sf360_conn_id=conn_id).get_conn()
    from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

    return lambda: SalesforceHook(salesforce_conn_id=conn_id, session=emu.requests_session()).get_conn()


def _task(make_client: Callable[[], Any], deadline: float, interval: float, gate: threading.Barrier,
          stats: TaskStats) -> None:
    gate.wait()
    started = time.perf_counter()
    try:
        client = make_client()
        while True:
            call_started = time.perf_counter()
            client.query(_env.QUERY)
            now = time.perf_counter()
            if stats.calls == 0:
                stats.start_latency = now - started
            stats.worst_call = max(stats.worst_call, now - call_started)
            stats.calls += 1
            if now + interval >= deadline:
                return
            time.sleep(interval)
    except Exception as error:  # a failed task is reported in the table, not raised
        stats.errors.append(f"{type(error).__name__}: {str(error).split(' for ')[0][:120]}")


def run_case(emu: Any, hook: str, conn_id: str, tasks: int, window: float, interval: float) -> dict[str, Any]:
    """N task threads for ``window`` seconds from a cold start; request counts and latencies."""
    if hook == "sf360":
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        SF360Hook(sf360_conn_id=conn_id).lifecycle.store.clear()
    make_client = _client_factory(hook, conn_id, emu)
    stats = [TaskStats() for _ in range(tasks)]
    gate = threading.Barrier(tasks + 1)
    before, log_start = emu.request_counts(), len(emu.request_log())
    deadline = time.perf_counter() + window + 0.05  # the threads are released within milliseconds
    threads = [threading.Thread(target=_task, args=(make_client, deadline, interval, gate, s), daemon=True)
               for s in stats]
    for thread in threads:
        thread.start()
    gate.wait()
    for thread in threads:
        thread.join()
    delta = _env.counts_delta(before, emu.request_counts())
    refused = sum(1 for e in emu.request_log()[log_start:] if e["endpoint"] == "rest" and e["status"] == 401)
    return {"delta": delta, "refused": refused, "stats": stats}


def run(tasks_list: tuple[int, ...] = (1, 8, 32), lifetime: int = 5, window: float = 7.0,
        interval: float = 0.5, with_community: bool = True) -> Table:
    """The table for every hook, flow and N."""
    from airflow_provider_sf360.testing import config as world

    cases = [("sf360", "JWT bearer", _env.JWT_CONN_ID), ("sf360", "client credentials", _env.CC_CONN_ID)]
    if with_community:
        cases += [("community", "JWT bearer", _env.COMMUNITY_JWT_CONN_ID),
                  ("community", "client credentials", _env.COMMUNITY_CC_CONN_ID)]
    table = Table(
        f"4. Token requests for N parallel tasks over one {lifetime} s session lifetime "
        f"({window:g} s window, threads)",
        ["Hook", "Flow", "N tasks", "Token requests (by grant)", "Token requests / task", "REST calls",
         "REST 401s", "Task start ms (median / max)", "Worst call ms", "Failed tasks"],
    )
    with _env.emulator() as emu:
        emu.set_app(world.DEFAULT_CONSUMER_KEY, session_timeout=lifetime)
        for hook, flow, conn_id in cases:
            for tasks in tasks_list:
                result = run_case(emu, hook, conn_id, tasks, window, interval)
                delta, stats = result["delta"], result["stats"]
                grants = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(delta.items())
                                   if k.startswith("token:")) or "none"
                starts = [s.start_latency for s in stats if s.calls]
                label = "sf360 `SF360Hook`" if hook == "sf360" else "community `SalesforceHook`"
                table.add(label, flow, tasks, f"{delta.get('token', 0)} ({grants})",
                          f"{delta.get('token', 0) / tasks:.2f}", delta.get("rest", 0), result["refused"],
                          f"{ms(median(starts))} / {ms(max(starts, default=0.0))}",
                          ms(max(s.worst_call for s in stats)), sum(1 for s in stats if s.errors))
                for s in stats:
                    if s.errors:
                        table.notes.append(f"{label} {flow} N={tasks}: {s.errors[0]}")
                        break
    table.notes += [
        f"Connected App session timeout {lifetime} s (emulator `set_app`); each run starts cold (no stored token) "
        f"and lasts {window:g} s, so every token expires once. Tasks are threads of one process that start together "
        f"and call `sf.query()` every {interval:g} s; the emulator runs in the same process.",
        "sf360 client credentials (Consumer Secret present): expiry known by introspection, renewed before its end "
        "(last fifth). sf360 JWT without a secret: expiry unknown (assumed 7200 s), so the first refused call renews "
        "it and the other tasks pick the new token up. The community hook re-runs its login in every task on "
        "`INVALID_SESSION_ID` (simple-salesforce's stored login).",
    ]
    return table


def main() -> None:
    """Run on its own, e.g. ``python bench/parallel_tokens.py --lifetime 12 --window 14 --tasks 32 --sf360-only``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--lifetime", type=int, default=5, help="Connected App session timeout, seconds")
    parser.add_argument("--window", type=float, default=7.0, help="how long the tasks run, seconds")
    parser.add_argument("--sf360-only", action="store_true", help="skip the community hook")
    args = parser.parse_args()
    _env.prepare_airflow_home()
    have_community = not args.sf360_only and _env.ensure_compared_provider()
    _env.migrate_db()
    try:
        print(run(tuple(args.tasks), args.lifetime, args.window, with_community=have_community).to_markdown())
    finally:
        _env.cleanup()


if __name__ == "__main__":
    main()
