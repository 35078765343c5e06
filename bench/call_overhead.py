"""Benchmark 3: per-call cost of ``SF360Hook.get_conn()``'s client vs a bare ``simple_salesforce.Salesforce``.

Both clients make the same calls with the same token, API version and instance URL; the bare one has a plain
``requests.Session`` and a fixed session id (simple-salesforce's ``direct`` mode, which cannot renew a token).
Two transports: HTTPS to the emulator (keep-alive), and a stub adapter answering in memory, which leaves only
the client-side work (simple-salesforce, requests, and for sf360 the token check and trusted-host check).
Calls are made in alternating blocks of 50 so that machine noise falls on both clients alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from requests.adapters import BaseAdapter

from bench import _env
from bench._table import Table, median

BLOCK = 50
LIMITS_BODY = b'{"DailyApiRequests": {"Max": 15000, "Remaining": 14999}}'


class StubAdapter(BaseAdapter):
    """Answers every request with 200 and a small JSON body, without any network."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = LIMITS_BODY
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


def clients(conn_id: str, stub: bool) -> tuple[Any, Any]:
    """(ours, bare) clients bound to the same stored token."""
    from simple_salesforce import Salesforce

    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    hook = SF360Hook(sf360_conn_id=conn_id)
    ours = hook.get_conn()
    state = hook.lifecycle.store.load()
    assert state is not None
    bare = Salesforce(instance_url=state.instance_url, session_id=state.access_token,
                      version=hook.credentials.api_version, session=requests.Session())
    if stub:
        for client in (ours, bare):
            client.session.mount("https://", StubAdapter())
    return ours, bare


def _timed_block(call: Callable[[], Any], clock: Callable[[], float]) -> float:
    started = clock()
    for _ in range(BLOCK):
        call()
    return (clock() - started) / BLOCK


def block_pairs(ours: Any, bare: Any, calls: int, clock: Callable[[], float]) -> list[tuple[float, float]]:
    """(ours, bare) seconds per call for each pair of adjacent blocks; ``calls`` calls per client in all."""
    pairs = []
    for block in range(calls // BLOCK):
        first, second = (ours, bare) if block % 2 == 0 else (bare, ours)
        a = _timed_block(partial(first.restful, "limits"), clock)
        b = _timed_block(partial(second.restful, "limits"), clock)
        pairs.append((a, b) if first is ours else (b, a))
    return pairs


def run(calls: int = 1000, rounds: int = 3) -> Table:
    """Medians over ``rounds`` x ``calls`` calls per client, per transport."""
    table = Table(
        f"3. Per-call cost, {calls:,} calls per client x {rounds} rounds (`sf.restful('limits')`)",
        ["Transport", "Clock", "sf360 `get_conn()` client µs/call", "bare `Salesforce(session_id=...)` µs/call",
         "Difference µs/call", "Ratio sf360 / bare"],
    )
    transports = (("HTTPS to the emulator (keep-alive)", False, "wall", time.perf_counter),
                  ("in-memory stub transport", True, "thread CPU", time.thread_time))
    with _env.emulator() as emu:
        for label, stub, clock_name, clock in transports:
            ours, bare = clients(_env.JWT_CONN_ID, stub)
            before = emu.request_counts().get("token", 0)
            block_pairs(ours, bare, BLOCK * 4, clock)  # warm-up: connections, caches
            pairs = [pair for _ in range(rounds) for pair in block_pairs(ours, bare, calls, clock)]
            ours_us = median([p[0] for p in pairs]) * 1e6
            bare_us = median([p[1] for p in pairs]) * 1e6
            ratio = median([p[0] / p[1] for p in pairs])
            table.add(label, clock_name, f"{ours_us:.0f}", f"{bare_us:.0f}", f"{ours_us - bare_us:+.0f}",
                      f"{ratio:.3f}")
            table.notes.append(f"{label}: {emu.request_counts().get('token', 0) - before} token requests during "
                               "the calls (the token was stored by the first get_conn()).")
    table.notes += [
        f"Blocks of {BLOCK} calls alternate between the clients; the figures are medians over blocks and the ratio "
        "is the median of adjacent-block ratios, so bursts of load from other processes fall on both clients. "
        "The stub transport is timed in thread CPU time: client-side work only, immune to preemption.",
        "The sf360 client keeps the token in memory (no Variable read per call while it is valid); its extra work "
        "per call is the expiry check, the trusted-host check of the URL and re-building the Authorization header.",
    ]
    return table


if __name__ == "__main__":
    _env.prepare_airflow_home()
    _env.migrate_db()
    try:
        print(run().to_markdown())
    finally:
        _env.cleanup()
