"""The CeleryExecutor stack: two worker "hosts", one rotating credential (the run itself: ``scale/two_hosts.py``).

``celery_world()`` starts PostgreSQL (metadata DB and Celery result backend), Redis (broker), the emulator
(rotation on, 15 s sessions), the api-server (or, split, a core and an execution api-server), scheduler and
dag-processor, and two ``airflow celery worker`` processes that stand for two hosts: each has its own
``--celery-hostname``, its own ``TMPDIR`` (so no file lock spans them), its own host name in task instances, and
reaches the api-server through its own :class:`~scale.tcp_proxy.TcpDelayProxy` (host A: no delay, a counter
only; host B: the slow network).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scale.harness import VENV_BIN, AirflowStack, Postgres, Processes, StackSettings, free_port, wait_for
from scale.two_hosts import LATE_ANSWER_SECONDS, REQUEST_TIMEOUT, SLOW_NETWORK_DELAYS, TwoHostFigures, two_host_run
from scale.worlds import (
    HOSTS,
    SLOW_HOST,
    Stage,
    TwoHostWorld,
    WorkerHost,
    host_environment,
    new_host,
    set_up_token,
    staged_world,
)

__all__ = ["HOSTS", "LATE_ANSWER_SECONDS", "REQUEST_TIMEOUT", "SLOW_HOST", "SLOW_NETWORK_DELAYS", "CeleryFigures",
           "CeleryWorld", "celery_run", "celery_world", "redis_server_binary"]

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


def start_worker(stage: Stage, env: Mapping[str, str], name: str, concurrency: int) -> WorkerHost:
    """Start one worker "host": own TMPDIR, own Celery host name, own host name in TIs, own api-server route.

    In the split layout its Execution API goes to the execution api-server and ``[sf360] api_server_url`` to the
    core one, each through a proxy of the host's own.
    """
    settings = stage.settings
    core_port = settings.api_port if settings.split_api_servers else None
    host = new_host(stage, name, settings.execution_api_port, core_port)
    worker_env = {
        **host_environment(env, host),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{host.proxy.port}/execution/",
    }
    if host.core_proxy is not None:
        worker_env["AIRFLOW__SF360__API_SERVER_URL"] = f"http://127.0.0.1:{host.core_proxy.port}"
    argv = [str(VENV_BIN / "airflow"), "celery", "worker", "--celery-hostname", f"{name}@sf360-scale",
            "--concurrency", str(concurrency), "--pid", str(host.tmpdir.parent / "worker.pid"),
            "--skip-serve-logs", "--without-gossip", "--without-mingle"]
    stage.procs.start(f"worker-{name}", argv, worker_env)
    return host


def _worker_ready(procs: Processes, log: Path) -> bool:
    procs.check_alive()
    return log.exists() and b" ready." in log.read_bytes()


@contextmanager
def celery_world(pg_bin: Path, concurrency: int = 8, session_timeout: int = 15, keep: bool = False,
                 worker_settings: Mapping[str, str] | None = None,
                 split_api_servers: bool = False) -> Iterator[TwoHostWorld]:
    """Start everything, set the token up once (outside tasks); stop every process (also on failure).

    :param worker_settings: extra environment of both workers, e.g. ``{"AIRFLOW__SF360__RENEWAL": "local"}`` for
        the negative control in which tasks renew by themselves (no lock spans the hosts).
    :param split_api_servers: run ``--apps core`` and ``--apps execution`` as two api-servers; workers get
        ``[sf360] api_server_url`` pointing at the core one.
    """
    redis_binary = redis_server_binary()
    if redis_binary is None:
        raise RuntimeError("redis-server not found (Debian: apt-get install -y redis-server)")
    settings = StackSettings(parallelism=concurrency * len(HOSTS), split_api_servers=split_api_servers)
    with staged_world(pg_bin, "sf360_celery_", settings, session_timeout, keep) as stage:
        redis = Redis(stage.work / "redis", redis_binary)
        redis.start(stage.procs, stage.env)
        env = celery_environment(stage.env, redis, stage.postgres, concurrency)
        stack = AirflowStack(stage.procs, env, settings)
        stack.start()
        hosts = {name: start_worker(stage, {**env, **(worker_settings or {})}, name, concurrency) for name in HOSTS}
        for name in HOSTS:
            log = stage.work / f"worker-{name}.log"
            wait_for(lambda log=log: _worker_ready(stage.procs, log), 180, f"celery worker {name} to be ready")
        set_up_token(stack)
        yield TwoHostWorld(stage.world(stack), hosts, concurrency, "CeleryExecutor", split_api_servers)


# The run itself is shared with the Edge run; these names stay for callers of the Celery run.
CeleryWorld = TwoHostWorld
CeleryFigures = TwoHostFigures
celery_run = two_host_run
