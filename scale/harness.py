"""Processes of the distributed run: a throwaway PostgreSQL and a real Airflow 3 stack, plus their environment.

Every process is started in its own session (``start_new_session=True``) and carries the environment marker
``SF360_SCALE_RUN=<id>``; :meth:`Processes.stop_all` ends the process groups it started, then any leftover
process carrying the marker (task processes put themselves in their own process groups).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCALE_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCALE_DIR.parent
DAGS_DIR = SCALE_DIR / "dags"
DAG_ID = "sf360_scale"
CONN_ID = "sf360_scale"
VENV_BIN = Path(sys.executable).parent
MARKER = "SF360_SCALE_RUN"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL binaries (``/usr/lib/postgresql/<v>/bin``), else ``initdb`` on PATH, else None."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``predicate()`` until it returns something truthy; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Processes:
    """Long-running child processes, each in its own session, logs to files; stopped by process group."""

    def __init__(self, log_dir: Path, run_id: str) -> None:
        self.log_dir = log_dir
        self.run_id = run_id
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path | None = None) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        full_env = {**env, MARKER: self.run_id}
        self.started[name] = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, env=full_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def check_alive(self) -> None:
        for name, proc in self.started.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.log_dir / name}.log")

    def stop_all(self, grace: float = 20.0, first: tuple[str, ...] = ()) -> None:
        """Stop every process group, those whose names start with one of ``first`` before the others (workers
        that report to the api-server on their way out then still reach it), then any marked leftover."""
        early = [proc for name, proc in self.started.items() if name.startswith(first)] if first else []
        self._stop(early, grace)
        self._stop([proc for proc in self.started.values() if proc not in early], grace)
        for pid in marked_processes(self.run_id):
            _signal_group(pid, signal.SIGKILL)
            _signal_pid(pid, signal.SIGKILL)
        self.started.clear()


    @staticmethod
    def _stop(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def marked_processes(run_id: str) -> list[int]:
    """Process ids whose environment carries this run's marker (descendants of what we started)."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class Postgres:
    """A private PostgreSQL cluster in ``root`` on 127.0.0.1 (as the ``postgres`` user when run as root)."""

    root: Path
    bin_dir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(12))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow:{self.password}@127.0.0.1:{self.port}/airflow"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(  # noqa: S603 - fixed argv
            [*prefix, *argv], check=True, capture_output=True, cwd=self.root, timeout=120
        )

    def start(self) -> None:
        """initdb, start on a free port, create the ``airflow`` role (with a password) and database."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=250"
        )
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "postgres.log"),
                  "-o", options, "-w", "-t", "60", "start")
        psql = [str(self.bin_dir / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
                "-v", "ON_ERROR_STOP=1", "-q", "-c"]
        self._run(*psql, f"CREATE ROLE airflow LOGIN PASSWORD '{self.password}'")
        self._run(*psql, "CREATE DATABASE airflow OWNER airflow")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


def base_environment() -> dict[str, str]:
    """This process's environment without any Airflow setting (the test suite's SQLite home must not leak)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}


@dataclass
class StackSettings:
    """Knobs of the Airflow stack.

    With ``split_api_servers`` two api-servers run: ``api_port`` serves the core API, the UI and plugins
    (``--apps core``), ``execution_port`` the Execution API (``--apps execution``); else one serves both.
    """

    parallelism: int = 16
    api_port: int = field(default_factory=free_port)
    split_api_servers: bool = False
    execution_port: int = field(default_factory=free_port)

    @property
    def execution_api_port(self) -> int:
        return self.execution_port if self.split_api_servers else self.api_port


def airflow_environment(
    home: Path, db_url: str, emulator: Mapping[str, Any], settings: StackSettings
) -> dict[str, str]:
    """The complete environment of every Airflow process and helper of the run."""
    from airflow_provider_sf360.testing import config as world

    conn = {
        "conn_type": "sf360",
        "login": world.DEFAULT_CONSUMER_KEY,
        "password": world.DEFAULT_CONSUMER_SECRET,
        "extra": {
            "org_id": world.DEFAULT_ORG_ID,
            "user_id": world.DEFAULT_USER_ID,
            "auth_flow": "authorization_code",
            "login_url": emulator["login_url"],
            "callback_url": world.DEFAULT_CALLBACK_URLS[0],
        },
    }
    secret = secrets.token_urlsafe(32)
    api = f"http://127.0.0.1:{settings.api_port}"
    machine = machine_connections(emulator)
    return {
        **base_environment(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(settings.parallelism),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{settings.execution_api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__SF360__ALLOWED_HOSTS": "127.0.0.1",
        "REQUESTS_CA_BUNDLE": str(emulator["ca_bundle"]),
        "CURL_CA_BUNDLE": str(emulator["ca_bundle"]),
        "SF360_SCALE_CONTROL_URL": str(emulator["control_url"]),  # for token_helper.py setup
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn),
        **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields) for conn_id, fields in machine.items()},
        "PYTHONUNBUFFERED": "1",
    }


JWT_CONN_ID = "sf360_jwt"
CLIENT_CREDENTIALS_CONN_ID = "sf360_cc"


def machine_connections(emulator: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The JWT bearer and client credentials connections of the default world's integration user (cold pods)."""
    from airflow_provider_sf360.testing import config as world

    common = {"org_id": world.DEFAULT_ORG_ID, "user_id": world.DEFAULT_USER_ID}
    my_domain = emulator["orgs"][world.DEFAULT_ORG_ID]["my_domain_url"]
    private_key = Path(emulator["jwt_private_key_file"]).read_text()
    flows = {
        JWT_CONN_ID: {"auth_flow": "jwt_bearer", "login_url": emulator["login_url"],
                      "username": world.DEFAULT_USERNAME, "private_key": private_key},
        CLIENT_CREDENTIALS_CONN_ID: {"auth_flow": "client_credentials", "login_url": my_domain},
    }
    return {conn_id: {"conn_type": "sf360", "login": world.DEFAULT_CONSUMER_KEY,
                      "password": world.DEFAULT_CONSUMER_SECRET, "extra": {**common, **extra}}
            for conn_id, extra in flows.items()}


class AirflowStack:
    """``airflow db migrate``, then api-server, scheduler and dag-processor; REST to drive DAG runs."""

    def __init__(self, procs: Processes, env: dict[str, str], settings: StackSettings) -> None:
        self.procs = procs
        self.env = env
        self.settings = settings
        self.base_url = f"http://127.0.0.1:{settings.api_port}"

    def airflow(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [str(VENV_BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def helper(self, *args: str, timeout: float = 120) -> dict[str, Any]:
        """Run ``scale/token_helper.py`` (outside any task, on the same metadata DB); its JSON answer."""
        done = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, str(SCALE_DIR / "token_helper.py"), *args],
            env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"token_helper {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def start(self) -> None:
        self.airflow("db", "migrate")
        airflow = str(VENV_BIN / "airflow")
        self._start_api_servers(airflow)
        self.procs.start("scheduler", [airflow, "scheduler"], self.env)
        self.procs.start("dag-processor", [airflow, "dag-processor"], self.env)
        wait_for(self._healthy, 120, "the api-server to answer /api/v2/monitor/health", interval=1)
        if self.settings.split_api_servers:
            wait_for(self._execution_healthy, 120, "the execution api-server to answer /execution/health", interval=1)
        try:
            wait_for(self._dag_known, 120, f"the dag-processor to serialize DAG {DAG_ID}", interval=1)
        except TimeoutError as error:
            errors = self.rest("GET", "/api/v2/importErrors").get("import_errors", [])
            raise TimeoutError(f"{error}; import errors: {errors}") from None
        self.rest("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

    def _start_api_servers(self, airflow: str) -> None:
        """One api-server with every app, or (split layout) ``--apps core`` and ``--apps execution`` apart."""
        argv = [airflow, "api-server", "-H", "127.0.0.1", "-p", str(self.settings.api_port)]
        if not self.settings.split_api_servers:
            self.procs.start("api-server", argv, self.env)
            return
        self.procs.start("api-server", [*argv, "--apps", "core"], self.env)
        self.procs.start("api-server-execution", [airflow, "api-server", "-H", "127.0.0.1",
                                                  "-p", str(self.settings.execution_port), "--apps", "execution"],
                         self.env)

    def _execution_healthy(self) -> bool:
        self.procs.check_alive()
        url = f"http://127.0.0.1:{self.settings.execution_port}/execution/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _healthy(self) -> bool:
        self.procs.check_alive()
        try:
            self.rest("GET", "/api/v2/monitor/health")
        except (OSError, RuntimeError):
            return False
        return True

    def _dag_known(self, dag_id: str = DAG_ID) -> bool:
        self.procs.check_alive()
        try:
            self.rest("GET", f"/api/v2/dags/{dag_id}")
        except RuntimeError:
            return False
        return True

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback http URL built here
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: HTTP {error.code} {error.read()[:500]!r}") from None
        return json.loads(raw) if raw else None

    def unpause(self, dag_id: str) -> None:
        """Wait until the dag-processor serialized ``dag_id``, then unpause it."""
        wait_for(lambda: self._dag_known(dag_id), 120, f"the dag-processor to serialize DAG {dag_id}", interval=1)
        self.rest("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, conf: Mapping[str, Any], dag_id: str = DAG_ID) -> str:
        answer = self.rest("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf)})
        return str(answer["dag_run_id"])

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        return str(self.rest("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")["state"])

    def wait_run(self, run_id: str, timeout: float, dag_id: str = DAG_ID) -> str:
        def finished() -> str | None:
            self.procs.check_alive()
            state = self.run_state(run_id, dag_id)
            return state if state in ("success", "failed") else None

        return str(wait_for(finished, timeout, f"DAG run {run_id} to finish", interval=2))

    def task_instances(self, run_id: str, task_id: str | None = None, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        answer = self.rest("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances?limit=500")
        tis = list(answer["task_instances"])
        return [ti for ti in tis if task_id is None or ti["task_id"] == task_id]

    def xcom(self, run_id: str, task_id: str, dag_id: str = DAG_ID, map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances/{task_id}/xcomEntries/return_value"
        value = self.rest("GET", f"{path}?deserialize=true&map_index={map_index}")["value"]
        return json.loads(value) if isinstance(value, str) else value

    def task_log(self, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
        folder = Path(self.env["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
        path = folder / f"task_id={task_id}" / f"map_index={map_index}" / f"attempt={try_number}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
