"""The CeleryExecutor run of issue 9: two worker "hosts", one rotating credential, a slow network, a late answer.

``celery_world()`` starts PostgreSQL (metadata DB and Celery result backend), Redis (broker), the emulator
(rotation on, 15 s sessions), the api-server, scheduler and dag-processor, and two ``airflow celery worker``
processes that stand for two hosts: each has its own ``--celery-hostname``, its own ``TMPDIR`` (so no file lock
spans them), its own host name in task instances, and reaches the api-server through its own
:class:`~scale.tcp_proxy.TcpDelayProxy` (host A: no delay, a counter only; host B: the slow network).
``celery_run()`` triggers the scale DAG and, while its tasks run, delays host B's api-server traffic by 0.5 s
and then 1 s per request and makes one token answer come ``LATE_ANSWER_SECONDS`` late (``delay_after``: the
grant is processed, the answer is late), with ``[sf360] request_timeout`` shorter than that.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scale.harness import (
    REPO_ROOT,
    VENV_BIN,
    AirflowStack,
    Postgres,
    Processes,
    StackSettings,
    airflow_environment,
    free_port,
    wait_for,
)
from scale.hostnames import HOST_VARIABLE
from scale.scenarios import (
    RENEWAL_FRACTION,
    World,
    _bound,
    _raise_on_sigterm,
    _reason,
    _ts,
    secret_scan,
)
from scale.tcp_proxy import TcpDelayProxy

if TYPE_CHECKING:
    from scale.tcp_proxy import ProxyStats

HOSTS = ("host-a", "host-b")
SLOW_HOST = "host-b"
#: Host B's added latency per api-server request: first this, then the second value.
SLOW_NETWORK_DELAYS = (0.5, 1.0)
#: ``[sf360] request_timeout`` on every component, and the late refresh answer (longer than it).
REQUEST_TIMEOUT = 2
LATE_ANSWER_SECONDS = 3.0


def redis_server_binary() -> str | None:
    """Debian's ``redis-server`` (``apt-get install redis-server``), or None."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


@dataclass
class Redis:
    """A throwaway Redis on 127.0.0.1 (no persistence), run by :class:`Processes` in ``root``."""

    root: Path
    binary: str
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, procs: Processes, env: Mapping[str, str]) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
                "--dir", str(self.root), "--save", "", "--appendonly", "no", "--daemonize", "no"]
        procs.start("redis", argv, env)
        wait_for(self._pong, 30, "redis-server to answer PING", interval=0.2)

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def celery_environment(env: Mapping[str, str], redis: Redis, postgres: Postgres,
                       concurrency: int) -> dict[str, str]:
    """The run's environment switched to the CeleryExecutor (Redis broker, PostgreSQL result backend).

    The result backend names its driver: SQLAlchemy 2.1 defaults ``postgresql://`` to psycopg 3, which the test
    extra does not install (psycopg2-binary is what the metadata DB uses).
    """
    result_backend = f"db+postgresql+psycopg2://airflow:{postgres.password}@127.0.0.1:{postgres.port}/airflow"
    return {
        **env,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__SF360__REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
    }


@dataclass
class WorkerHost:
    """One ``airflow celery worker`` standing for a host, and the proxy its api-server traffic goes through."""

    name: str
    proxy: TcpDelayProxy
    tmpdir: Path


def start_worker(procs: Processes, env: Mapping[str, str], work: Path, name: str, api_port: int,
                 concurrency: int) -> WorkerHost:
    """Start one worker "host": own TMPDIR, own Celery host name, own host name in TIs, own api-server route."""
    home = work / "hosts" / name
    tmpdir = home / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    proxy = TcpDelayProxy(api_port).start()
    worker_env = {
        **env,
        "TMPDIR": str(tmpdir),
        HOST_VARIABLE: name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scale.hostnames.worker_host",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{proxy.port}/execution/",
    }
    argv = [str(VENV_BIN / "airflow"), "celery", "worker", "--celery-hostname", f"{name}@sf360-scale",
            "--concurrency", str(concurrency), "--pid", str(home / "worker.pid"), "--skip-serve-logs",
            "--without-gossip", "--without-mingle"]
    procs.start(f"worker-{name}", argv, worker_env)
    return WorkerHost(name, proxy, tmpdir)


def _worker_ready(procs: Processes, log: Path) -> bool:
    procs.check_alive()
    return log.exists() and b" ready." in log.read_bytes()


@dataclass
class CeleryWorld:
    """The running Celery stack: the common :class:`World` plus the two worker hosts."""

    world: World
    hosts: dict[str, WorkerHost]
    concurrency: int


@contextmanager
def celery_world(pg_bin: Path, concurrency: int = 8, session_timeout: int = 15, keep: bool = False,
                 worker_settings: Mapping[str, str] | None = None) -> Iterator[CeleryWorld]:
    """Start everything, set the token up once (outside tasks); stop every process (also on failure).

    :param worker_settings: extra environment of both workers, e.g. ``{"AIRFLOW__SF360__RENEWAL": "local"}`` for
        the negative control in which tasks renew by themselves (no lock spans the hosts).
    """
    from airflow_provider_sf360.testing import EmulatorConfig, SalesforceEmulator
    from airflow_provider_sf360.testing import config as sf_world

    redis_binary = redis_server_binary()
    if redis_binary is None:
        raise RuntimeError("redis-server not found (Debian: apt-get install -y redis-server)")
    previous_handler = _raise_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix="sf360_celery_"))
    work.chmod(0o711)  # the postgres user must reach its data directory inside
    procs = Processes(work, uuid.uuid4().hex)
    postgres = Postgres(work / "pg", pg_bin)
    redis = Redis(work / "redis", redis_binary)
    emulator = SalesforceEmulator(EmulatorConfig.default())
    hosts: dict[str, WorkerHost] = {}
    failed = True
    try:
        postgres.start()
        emulator.start()
        emulator.set_app(sf_world.DEFAULT_CONSUMER_KEY, rotation=True, session_timeout=session_timeout)
        settings = StackSettings(parallelism=concurrency * len(HOSTS))
        env = airflow_environment(work / "airflow", postgres.url, emulator.info(), settings)
        redis.start(procs, env)
        env = celery_environment(env, redis, postgres, concurrency)
        stack = AirflowStack(procs, env, settings)
        stack.start()
        for name in HOSTS:
            hosts[name] = start_worker(procs, {**env, **(worker_settings or {})}, work, name, settings.api_port,
                                       concurrency)
        for name in HOSTS:
            log = work / f"worker-{name}.log"
            wait_for(lambda log=log: _worker_ready(procs, log), 180, f"celery worker {name} to be ready")
        setup = stack.helper("setup")
        if not setup.get("ok"):
            raise RuntimeError(f"initial setup failed: {setup}")
        yield CeleryWorld(World(stack, emulator, session_timeout, settings.parallelism, work), hosts, concurrency)
        failed = False
    finally:
        try:
            procs.stop_all()
        finally:
            for host in hosts.values():
                host.proxy.stop()
            emulator.stop()
            postgres.stop()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        if keep or failed:
            print(f"celery run files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class CeleryFigures:
    """Exact figures of the Celery run (see :func:`celery_run`); :meth:`problems` says why it does not pass."""

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

    slow_proxy: TcpDelayProxy
    emulator: Any
    task_seconds: float
    first_running: float = math.nan
    late_answer_set_at: float = math.nan
    token_requests_at_fault: int = 0
    switched: bool = False

    def tick(self, running: int) -> None:
        now = time.monotonic()
        if running and math.isnan(self.first_running):
            self.first_running = now
        if math.isnan(self.first_running):
            return
        if math.isnan(self.late_answer_set_at) and now - self.first_running >= 3:
            self.token_requests_at_fault = int(self.emulator.request_counts().get("token", 0))
            self.emulator.inject_fault("token", "delay_after", 1, LATE_ANSWER_SECONDS)
            self.late_answer_set_at = now
        if not self.switched and now - self.first_running >= self.task_seconds * 0.8:
            self.slow_proxy.set_delay(SLOW_NETWORK_DELAYS[1])
            self.switched = True


def celery_run(cw: CeleryWorld, tasks: int = 32, task_seconds: float = 30, interval: float = 0.25,
               timeout: float = 600) -> CeleryFigures:
    """Trigger the scale DAG with the disturbances of issue 9 and measure.

    Host B's api-server traffic is held 0.5 s per request from the trigger on, and 1 s once the first tasks
    have called Salesforce for 80 % of ``task_seconds``. Three seconds after the first task runs, the next token
    request (a refresh grant) is processed at once but answered ``LATE_ANSWER_SECONDS`` later, with
    ``[sf360] request_timeout`` = ``REQUEST_TIMEOUT`` everywhere.
    """
    world = cw.world
    stack, emulator = world.stack, world.emulator
    slow = cw.hosts[SLOW_HOST].proxy
    before_counts, before_holdings = emulator.request_counts(), emulator.holdings()
    proxy_before = {name: host.proxy.snapshot() for name, host in cw.hosts.items()}
    slow.set_delay(SLOW_NETWORK_DELAYS[0])
    schedule = _Schedule(slow, emulator, task_seconds)
    run_id = stack.trigger({"tasks": tasks, "seconds": task_seconds, "interval": interval})

    def finished() -> str | None:
        world.stack.procs.check_alive()
        running = [ti for ti in stack.task_instances(run_id, "call_salesforce") if ti["state"] == "running"]
        schedule.tick(len(running))
        state = stack.run_state(run_id)
        return state if state in ("success", "failed") else None

    try:
        state = str(wait_for(finished, timeout, f"DAG run {run_id} to finish", interval=1))
    finally:
        slow.set_delay(0)
        emulator.clear_faults()
    after_counts, after_holdings = emulator.request_counts(), emulator.holdings()
    proxy_after = {name: host.proxy.snapshot() for name, host in cw.hosts.items()}
    return _figures(cw, run_id, state, tasks, schedule, (before_counts, after_counts),
                    (before_holdings, after_holdings), (proxy_before, proxy_after))


def _figures(cw: CeleryWorld, run_id: str, state: str, tasks: int, schedule: _Schedule,
             counts: tuple[dict[str, int], dict[str, int]], holdings: tuple[dict[str, Any], dict[str, Any]],
             proxies: tuple[dict[str, ProxyStats], dict[str, ProxyStats]]) -> CeleryFigures:
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
    return CeleryFigures(
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
