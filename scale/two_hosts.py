"""The two-host rotation run: one rotating credential, two worker hosts, a slow network and a late answer.

Shared by the Celery run (``scale/celery_stack.py``), the Edge run (``scale/edge_stack.py``) and the Celery run
in the split api-server layout. :func:`two_host_run` triggers the scale DAG and, while its tasks run, delays host
B's api-server traffic by 0.5 s and then 1 s per request and makes one token answer come ``LATE_ANSWER_SECONDS``
late (``delay_after``: the grant is processed, the answer is late), with ``[sf360] request_timeout`` shorter than
that. :func:`wiring_check_run` is the split layout's negative check.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scale.harness import DAG_ID, wait_for
from scale.scenarios import RENEWAL_FRACTION, _bound, _reason, _ts, secret_scan
from scale.tcp_proxy import ProxyStats
from scale.worlds import HOSTS, SLOW_HOST, TwoHostWorld, WorkerHost

#: Host B's added latency per api-server request: first this, then the second value.
SLOW_NETWORK_DELAYS = (0.5, 1.0)
FINISHED_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")
#: ``[sf360] request_timeout`` on every component, and the late refresh answer (longer than it).
REQUEST_TIMEOUT = 2
LATE_ANSWER_SECONDS = 3.0


def _host_snapshot(host: WorkerHost) -> ProxyStats:
    """What went through all of one host's proxies."""
    total = ProxyStats()
    for proxy in host.proxies:
        stats = proxy.snapshot()
        total.requests += stats.requests
        total.renew_requests += stats.renew_requests
        total.requests_by_delay = Counter(total.requests_by_delay) + Counter(stats.requests_by_delay)
    return total


@dataclass
class TwoHostFigures:
    """Exact figures of a two-host run (see :func:`two_host_run`); :meth:`problems` says why it does not pass."""

    run_state: str
    tasks: int
    tasks_succeeded: int
    tasks_failed: int
    max_try_number: int
    tasks_by_host: dict[str, int]
    distinct_task_pids: int
    api_calls: int
    rest_requests: int
    token_requests: int
    refresh_token_grants: int
    other_token_grants: int
    reuse_detections: int
    family_revocations: int
    family_revocations_by_cause: dict[str, int]
    live_approvals_after: int
    wall_seconds: float
    trigger_to_first_task_seconds: float
    last_task_to_run_end_seconds: float
    session_timeout: int
    session_lifetimes: float
    refresh_grants_per_session_lifetime: float
    bound_one_per_session_lifetime: int
    token_request_bound: int
    request_timeout: int
    late_answer_seconds: float
    late_answer_fault_fired: bool
    slow_host_delays: str
    slow_host_requests_by_delay: dict[str, int]
    renewal_calls_via_api_server: dict[str, int]
    renewal_answers_at_api_server: dict[str, int]
    slowest_renewal_answer_seconds: float
    concurrency_per_host: int
    secrets_checked: int
    secrets_in_logs: int
    sample_failure: str

    def problems(self) -> list[str]:
        """Why the run does not pass (empty when it does)."""
        found = []
        if self.run_state != "success" or self.tasks_succeeded != self.tasks or self.tasks_failed:
            found.append(f"run {self.run_state}, {self.tasks_succeeded}/{self.tasks} tasks succeeded, "
                         f"{self.tasks_failed} failed")
        if self.max_try_number != 1:
            found.append(f"some task needed try {self.max_try_number}")
        if self.reuse_detections:
            found.append(f"{self.reuse_detections} refresh-token reuse detections")
        if self.family_revocations:
            found.append(f"{self.family_revocations} token families revoked {self.family_revocations_by_cause}")
        if self.token_requests > self.token_request_bound:
            found.append(f"{self.token_requests} token requests > bound {self.token_request_bound}")
        if not all(self.tasks_by_host.get(host, 0) for host in HOSTS):
            found.append(f"not every host ran tasks: {self.tasks_by_host}")
        if not self.late_answer_fault_fired:
            found.append("no token request came after the late-answer fault was set: it never fired")
        elif self.renewal_answers_at_api_server and self.slowest_renewal_answer_seconds < LATE_ANSWER_SECONDS:
            found.append(f"no renewal call on the api-server took {LATE_ANSWER_SECONDS} s: the late refresh answer "
                         "was not waited for")
        if not all(self.slow_host_requests_by_delay.get(str(d), 0) for d in SLOW_NETWORK_DELAYS):
            found.append(f"host B's traffic was not delayed by each of {SLOW_NETWORK_DELAYS}: "
                         f"{self.slow_host_requests_by_delay}")
        if self.secrets_in_logs:
            found.append(f"{self.secrets_in_logs} secrets found in log files")
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run_end(stack: Any, run_id: str) -> float:
    from urllib.parse import quote

    run = stack.rest("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")
    return _ts(run.get("end_date"))


_ACCESS_LINE = re.compile(r"^.*path=/sf360/api/renew[ \t].*$", re.MULTILINE)
_STATUS = re.compile(r"status_code=(\d+)")
_DURATION = re.compile(r"duration_us=(\d+)")


def api_server_renewals(work_dir: Path) -> tuple[dict[str, int], float]:
    """(renewal answers by HTTP status, slowest answer in seconds) from the api-server's ``http.access`` log."""
    log = work_dir / "api-server.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    by_status: dict[str, int] = {}
    slowest = 0.0
    for line in _ACCESS_LINE.findall(text[-50_000_000:]):
        status, duration = _STATUS.search(line), _DURATION.search(line)
        key = status.group(1) if status else "?"
        by_status[key] = by_status.get(key, 0) + 1
        slowest = max(slowest, int(duration.group(1)) / 1e6 if duration else 0.0)
    return dict(sorted(by_status.items())), round(slowest, 2)


def _revocations(holdings: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(holdings.get("family_revocations") or {}).items()}


def _live_approvals(holdings: Mapping[str, Any]) -> int:
    from airflow_provider_sf360.testing import config as sf_world

    return sum(int(row["live_approvals"]) for row in holdings.get("by_user_app", [])
               if row["user_id"] == sf_world.DEFAULT_USER_ID and row["consumer_key"] == sf_world.DEFAULT_CONSUMER_KEY)


@dataclass
class _Schedule:
    """The disturbances of the run, applied by :func:`celery_run` while it polls."""

    slow_host: WorkerHost
    emulator: Any
    task_seconds: float
    first_running: float = math.nan
    late_answer_set_at: float = math.nan
    token_requests_at_fault: int = 0
    switched: bool = False
    triggered_at: float = math.nan

    def tick(self, running: int, unfinished: int) -> None:
        """Apply the disturbances; ``running`` and ``unfinished`` count the mapped tasks in those states."""
        now = time.monotonic()
        if running and math.isnan(self.first_running):
            self.first_running = now
        if math.isnan(self.first_running):
            return
        if not unfinished:  # every mapped task is done: nothing renews any more, the slow network has made its
            self.slow_host.set_delay(0)  # point (host B's ``total`` task would otherwise pull 32 XComs at 1 s each)
            return
        if math.isnan(self.late_answer_set_at) and now - self.first_running >= 3:
            self.token_requests_at_fault = int(self.emulator.request_counts().get("token", 0))
            self.emulator.inject_fault("token", "delay_after", 1, LATE_ANSWER_SECONDS)
            self.late_answer_set_at = now
        if not self.switched and now - self.first_running >= self.task_seconds * 0.8:
            self.slow_host.set_delay(SLOW_NETWORK_DELAYS[1])
            self.switched = True


def two_host_run(cw: TwoHostWorld, tasks: int = 32, task_seconds: float = 30, interval: float = 0.25,
               timeout: float = 600) -> TwoHostFigures:
    """Trigger the scale DAG with the disturbances of a slow network and a late answer, and measure.

    Host B's api-server traffic is held 0.5 s per request from the trigger on, and 1 s once the first tasks
    have called Salesforce for 80 % of ``task_seconds``. Three seconds after the first task runs, the next token
    request (a refresh grant) is processed at once but answered ``LATE_ANSWER_SECONDS`` later, with
    ``[sf360] request_timeout`` = ``REQUEST_TIMEOUT`` everywhere.
    """
    world = cw.world
    stack, emulator = world.stack, world.emulator
    slow = cw.hosts[SLOW_HOST]
    before_counts, before_holdings = emulator.request_counts(), emulator.holdings()
    proxy_before = {name: _host_snapshot(host) for name, host in cw.hosts.items()}
    slow.set_delay(SLOW_NETWORK_DELAYS[0])
    schedule = _Schedule(slow, emulator, task_seconds)
    schedule.triggered_at = time.time()
    run_id = stack.trigger({"tasks": tasks, "seconds": task_seconds, "interval": interval})

    def finished() -> str | None:
        world.stack.procs.check_alive()
        tis = stack.task_instances(run_id, "call_salesforce")
        unfinished = [ti for ti in tis if ti["state"] not in FINISHED_STATES]
        schedule.tick(sum(ti["state"] == "running" for ti in tis), len(unfinished) if len(tis) == tasks else tasks)
        state = stack.run_state(run_id)
        return state if state in ("success", "failed") else None

    try:
        state = str(wait_for(finished, timeout, f"DAG run {run_id} to finish", interval=1))
    finally:
        slow.set_delay(0)
        emulator.clear_faults()
    after_counts, after_holdings = emulator.request_counts(), emulator.holdings()
    proxy_after = {name: _host_snapshot(host) for name, host in cw.hosts.items()}
    return _figures(cw, run_id, state, tasks, schedule, (before_counts, after_counts),
                    (before_holdings, after_holdings), (proxy_before, proxy_after))


def _figures(cw: TwoHostWorld, run_id: str, state: str, tasks: int, schedule: _Schedule,
             counts: tuple[dict[str, int], dict[str, int]], holdings: tuple[dict[str, Any], dict[str, Any]],
             proxies: tuple[dict[str, ProxyStats], dict[str, ProxyStats]]) -> TwoHostFigures:
    world = cw.world
    stack = world.stack
    before, after = counts
    tis = stack.task_instances(run_id, "call_salesforce")
    total = stack.xcom(run_id, "total") if state == "success" else {}
    starts = [_ts(ti["start_date"]) for ti in tis if ti["start_date"]]
    ends = [_ts(ti["end_date"]) for ti in tis if ti["end_date"]]
    wall = (max(ends) - min(starts)) if starts and ends else math.nan
    token_requests = after.get("token", 0) - before.get("token", 0)
    refresh = after.get("token:refresh_token", 0) - before.get("token:refresh_token", 0)
    revocations_before, revocations_after = _revocations(holdings[0]), _revocations(holdings[1])
    revoked = {k: v - revocations_before.get(k, 0) for k, v in revocations_after.items()
               if v - revocations_before.get(k, 0)}
    by_host: dict[str, int] = {}
    for ti in tis:
        by_host[str(ti.get("hostname") or "?")] = by_host.get(str(ti.get("hostname") or "?"), 0) + 1
    failed = [ti for ti in tis if ti["state"] != "success"]
    sample = ""
    if failed:
        ti = failed[0]
        sample = _reason(stack.task_log(run_id, ti["task_id"], ti["map_index"], max(1, int(ti["try_number"]))))
    slow_before, slow_after = proxies[0][SLOW_HOST], proxies[1][SLOW_HOST]
    by_delay = {str(d): n - slow_before.requests_by_delay.get(d, 0)
                for d, n in slow_after.requests_by_delay.items() if d and n - slow_before.requests_by_delay.get(d, 0)}
    renew_calls = {name: proxies[1][name].renew_requests - proxies[0][name].renew_requests for name in cw.hosts}
    answers, slowest = api_server_renewals(world.work_dir)
    checked, leaked = secret_scan(world)
    return TwoHostFigures(
        run_state=state,
        tasks=tasks,
        tasks_succeeded=sum(ti["state"] == "success" for ti in tis),
        tasks_failed=len(failed),
        max_try_number=max((int(ti["try_number"]) for ti in tis), default=0),
        tasks_by_host=dict(sorted(by_host.items())),
        distinct_task_pids=len({ti["pid"] for ti in tis if ti.get("pid")}),
        api_calls=int(total.get("calls", 0)),
        rest_requests=after.get("rest", 0) - before.get("rest", 0),
        token_requests=token_requests,
        refresh_token_grants=refresh,
        other_token_grants=token_requests - refresh,
        reuse_detections=int(holdings[1]["reuse_detections"]) - int(holdings[0]["reuse_detections"]),
        family_revocations=sum(revoked.values()),
        family_revocations_by_cause=revoked,
        live_approvals_after=_live_approvals(holdings[1]),
        wall_seconds=round(wall, 1),
        trigger_to_first_task_seconds=round(min(starts) - schedule.triggered_at, 1) if starts else math.nan,
        last_task_to_run_end_seconds=round(_run_end(stack, run_id) - max(ends), 1) if ends else math.nan,
        session_timeout=world.session_timeout,
        session_lifetimes=round(wall / world.session_timeout, 1),
        refresh_grants_per_session_lifetime=round(refresh / (wall / world.session_timeout), 2) if wall else math.nan,
        bound_one_per_session_lifetime=_bound(wall, world.session_timeout),
        token_request_bound=_bound(wall, world.session_timeout * RENEWAL_FRACTION),
        request_timeout=REQUEST_TIMEOUT,
        late_answer_seconds=LATE_ANSWER_SECONDS,
        late_answer_fault_fired=after.get("token", 0) > schedule.token_requests_at_fault
        and not math.isnan(schedule.late_answer_set_at),
        slow_host_delays=" then ".join(f"{d} s" for d in SLOW_NETWORK_DELAYS),
        slow_host_requests_by_delay=by_delay,
        renewal_calls_via_api_server=renew_calls,
        renewal_answers_at_api_server=answers,
        slowest_renewal_answer_seconds=slowest,
        concurrency_per_host=cw.concurrency,
        secrets_checked=checked,
        secrets_in_logs=leaked,
        sample_failure=sample[:400],
    )


WIRING_MESSAGE = ("No sf360 renewal route", "--apps execution", "[sf360] api_server_url")


@dataclass
class WiringFigures:
    """The split layout without ``[sf360] api_server_url``: a task that must renew, and what it did."""

    run_state: str
    task_state: str
    try_number: int
    seconds_task_ran: float
    renewal_calls_to_execution_api_server: int
    renewal_calls_to_core_api_server: int
    token_requests: int
    reuse_detections: int
    reason: str

    def problems(self) -> list[str]:
        """Why the task did not fail at once with the one clear message (empty when it did)."""
        found = []
        if self.task_state != "failed" or self.try_number != 1:
            found.append(f"task {self.task_state} at try {self.try_number}: it should fail once, without retries")
        if not all(part in self.reason for part in WIRING_MESSAGE):
            found.append(f"the reason does not name the fix: {self.reason!r}")
        if (self.renewal_calls_to_execution_api_server, self.renewal_calls_to_core_api_server) != (1, 0):
            found.append(f"renewal calls (execution, core) = ({self.renewal_calls_to_execution_api_server}, "
                         f"{self.renewal_calls_to_core_api_server}); expected one to the execution api-server")
        if self.token_requests or self.reuse_detections:
            found.append(f"{self.token_requests} token requests, {self.reuse_detections} reuse detections")
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wiring_check_run(cw: TwoHostWorld, timeout: float = 180) -> WiringFigures:
    """One task whose token is stale, on a worker of the split layout whose task has no ``[sf360] api_server_url``:
    it derives the sf360 API from its Execution API URL, which is the execution-only api-server."""
    stack, emulator = cw.world.stack, cw.world.emulator
    stack.helper("expire")
    execution_before = sum(host.proxy.snapshot().renew_requests for host in cw.hosts.values())
    core_before = sum(host.renew_requests() for host in cw.hosts.values()) - execution_before
    counts_before, reuse_before = emulator.request_counts(), emulator.holdings()["reuse_detections"]
    run_id = stack.trigger({"tasks": 1, "seconds": 1, "interval": 0.25, "without_sf360_api_server_url": True})
    state = stack.wait_run(run_id, timeout)
    ti = stack.task_instances(run_id, "call_salesforce")[0]
    try_number = max(1, int(ti["try_number"]))
    execution_after = sum(host.proxy.snapshot().renew_requests for host in cw.hosts.values())
    core_after = sum(host.renew_requests() for host in cw.hosts.values()) - execution_after
    ran = _ts(ti["end_date"]) - _ts(ti["start_date"]) if ti["start_date"] and ti["end_date"] else math.nan
    return WiringFigures(
        run_state=state,
        task_state=str(ti["state"]),
        try_number=try_number,
        seconds_task_ran=round(ran, 1),
        renewal_calls_to_execution_api_server=execution_after - execution_before,
        renewal_calls_to_core_api_server=core_after - core_before,
        token_requests=emulator.request_counts().get("token", 0) - counts_before.get("token", 0),
        reuse_detections=int(emulator.holdings()["reuse_detections"]) - int(reuse_before),
        reason=_reason(stack.task_log(run_id, "call_salesforce", int(ti["map_index"]), try_number)),
    )
