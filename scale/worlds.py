"""What every distributed run shares: the work directory, PostgreSQL, the emulator, the environment, worker hosts.

:func:`staged_world` starts PostgreSQL and the emulator (rotation on, short sessions) and builds the environment
of every process; the caller adds its executor's pieces (Redis, Celery or Edge workers) and the Airflow stack,
then sets the token up once with :func:`set_up_token`. On the way out (also on failure or SIGTERM) every process,
proxy, the emulator and PostgreSQL are stopped, and the work directory is removed unless kept.

A worker "host" (:class:`WorkerHost`) is a worker process standing for one machine: its own ``TMPDIR`` (so no
file lock spans hosts), its own host name in task instances, and its own route to the api-server through a
:class:`~scale.tcp_proxy.TcpDelayProxy` (host B's is the slow network).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scale.harness import REPO_ROOT, AirflowStack, Postgres, Processes, StackSettings, airflow_environment
from scale.hostnames import HOST_VARIABLE
from scale.scenarios import World, _raise_on_sigterm
from scale.tcp_proxy import TcpDelayProxy

if TYPE_CHECKING:
    from airflow_provider_sf360.testing import SalesforceEmulator

HOSTS = ("host-a", "host-b")
SLOW_HOST = "host-b"


@dataclass
class Stage:
    """The pieces a run builds on; ``cleanups`` run (last added first) before the emulator and PostgreSQL stop."""

    work: Path
    procs: Processes
    postgres: Postgres
    emulator: SalesforceEmulator
    settings: StackSettings
    env: dict[str, str]
    session_timeout: int
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def world(self, stack: AirflowStack) -> World:
        return World(stack, self.emulator, self.session_timeout, self.settings.parallelism, self.work)


@contextmanager
def staged_world(pg_bin: Path, prefix: str, settings: StackSettings, session_timeout: int = 15,
                 keep: bool = False) -> Iterator[Stage]:
    """PostgreSQL and the emulator running, the environment built; everything stopped on the way out."""
    from airflow_provider_sf360.testing import EmulatorConfig, SalesforceEmulator
    from airflow_provider_sf360.testing import config as sf_world

    previous_handler = _raise_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    work.chmod(0o711)  # the postgres user must reach its data directory inside
    procs = Processes(work, uuid.uuid4().hex)
    postgres = Postgres(work / "pg", pg_bin)
    emulator = SalesforceEmulator(EmulatorConfig.default())
    stage: Stage | None = None
    failed = True
    try:
        postgres.start()
        emulator.start()
        emulator.set_app(sf_world.DEFAULT_CONSUMER_KEY, rotation=True, session_timeout=session_timeout)
        env = airflow_environment(work / "airflow", postgres.url, emulator.info(), settings)
        stage = Stage(work, procs, postgres, emulator, settings, env, session_timeout)
        yield stage
        failed = False
    finally:
        try:
            procs.stop_all(first=("worker-",))
        finally:
            for cleanup in reversed(stage.cleanups if stage else []):
                cleanup()
            emulator.stop()
            postgres.stop()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        if keep or failed:
            print(f"run files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def scale_world(pg_bin: Path, parallelism: int = 16, session_timeout: int = 15,
                keep: bool = False) -> Iterator[World]:
    """The LocalExecutor world: the staged world, the Airflow stack started and the token set up once.

    The emulator runs in this process (its own threads), so that its ``secrets_seen()`` can be looked for in
    every log the run wrote; the Airflow processes reach it over HTTPS like any Salesforce.
    """
    settings = StackSettings(parallelism=parallelism)
    with staged_world(pg_bin, "sf360_scale_", settings, session_timeout, keep) as stage:
        stack = AirflowStack(stage.procs, stage.env, settings)
        stack.start()
        set_up_token(stack)
        yield stage.world(stack)


def set_up_token(stack: AirflowStack) -> None:
    """The web server flow once, outside any task, on the run's metadata DB."""
    setup = stack.helper("setup")
    if not setup.get("ok"):
        raise RuntimeError(f"initial setup failed: {setup}")


@dataclass
class WorkerHost:
    """A worker standing for one host, and the proxies its api-server traffic goes through.

    ``proxy`` carries the Execution API (and, unless ``core_proxy`` is set, the sf360 API too); ``core_proxy``
    carries the sf360 API when it lives on another api-server (the split layout).
    """

    name: str
    proxy: TcpDelayProxy
    tmpdir: Path
    core_proxy: TcpDelayProxy | None = None

    @property
    def proxies(self) -> list[TcpDelayProxy]:
        return [self.proxy] + ([self.core_proxy] if self.core_proxy else [])

    def set_delay(self, seconds: float) -> None:
        for proxy in self.proxies:
            proxy.set_delay(seconds)

    def renew_requests(self) -> int:
        return sum(proxy.snapshot().renew_requests for proxy in self.proxies)


def new_host(stage: Stage, name: str, target_port: int, core_port: int | None = None) -> WorkerHost:
    """A host's own directory and TMPDIR and its proxies (stopped with the stage)."""
    home = stage.work / "hosts" / name
    tmpdir = home / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    proxy = TcpDelayProxy(target_port).start()
    stage.cleanups.append(proxy.stop)
    core_proxy = None
    if core_port is not None:
        core_proxy = TcpDelayProxy(core_port).start()
        stage.cleanups.append(core_proxy.stop)
    return WorkerHost(name, proxy, tmpdir, core_proxy)


def host_environment(env: Mapping[str, str], host: WorkerHost) -> dict[str, str]:
    """``env`` as seen on ``host``: its TMPDIR, its host name in task instances, the repository importable."""
    return {
        **env,
        "TMPDIR": str(host.tmpdir),
        HOST_VARIABLE: host.name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scale.hostnames.worker_host",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
    }


@dataclass
class TwoHostWorld:
    """A running stack with two worker hosts (Celery or Edge)."""

    world: World
    hosts: dict[str, WorkerHost]
    concurrency: int
    executor: str = "CeleryExecutor"
    split_api_servers: bool = False
