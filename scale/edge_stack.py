"""The EdgeExecutor stack: two Edge workers standing for two remote hosts that have no metadata DB.

``edge_world()`` starts PostgreSQL, the emulator, the api-server (with the edge3 plugin's worker API,
``[edge] api_enabled``), scheduler and dag-processor with ``EdgeExecutor``, and two ``airflow edge worker``
processes. Each worker gets only what a remote Edge host gets: ``[edge] api_url`` (through its own
:class:`~scale.tcp_proxy.TcpDelayProxy`), the shared ``[api_auth] jwt_secret`` its requests are signed with, the
DAG folder, the provider's ``[sf360]`` options and the emulator's CA. It has no ``[database] sql_alchemy_conn``
(nor the PostgreSQL password anywhere in its environment), no Fernet key, no connection environment variable
(tasks read the connection through the Execution API), no ``[core] execution_api_server_url`` and no ``[api]
base_url``: its forked task processes find the Execution API, and the provider finds the sf360 API, from ``[edge]
api_url`` alone. Each has its own ``AIRFLOW_HOME``, ``TMPDIR`` and host name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scale.harness import VENV_BIN, AirflowStack, Processes, StackSettings, base_environment, wait_for
from scale.two_hosts import REQUEST_TIMEOUT
from scale.worlds import HOSTS, Stage, TwoHostWorld, WorkerHost, host_environment, new_host, set_up_token, staged_world

EDGE_EXECUTOR = "airflow.providers.edge3.executors.EdgeExecutor"
EDGE_API_PATH = "/edge_worker/v1/rpcapi"
#: What an Edge host is given from the central configuration (everything else stays on the central side).
WORKER_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__EDGE__JOB_POLL_INTERVAL",
    "AIRFLOW__EDGE__HEARTBEAT_INTERVAL",
    "AIRFLOW__SF360__ALLOWED_HOSTS",
    "AIRFLOW__SF360__REQUEST_TIMEOUT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PYTHONUNBUFFERED",
)


def edge3_missing() -> str | None:
    """Why the Edge run cannot start here (the edge3 provider is not installed), or None."""
    import importlib.util

    try:
        found = importlib.util.find_spec("airflow.providers.edge3") is not None
    except ModuleNotFoundError:
        found = False
    return None if found else "apache-airflow-providers-edge3 is not installed (pip install -e '.[test]')"


def edge_environment(env: Mapping[str, str], settings: StackSettings) -> dict[str, str]:
    """The central components' environment switched to the EdgeExecutor, with the worker API enabled."""
    return {
        **env,
        "AIRFLOW__CORE__EXECUTOR": EDGE_EXECUTOR,
        "AIRFLOW__EDGE__API_ENABLED": "True",
        "AIRFLOW__EDGE__API_URL": f"http://127.0.0.1:{settings.api_port}{EDGE_API_PATH}",
        "AIRFLOW__EDGE__JOB_POLL_INTERVAL": "1",
        "AIRFLOW__EDGE__HEARTBEAT_INTERVAL": "5",
        "AIRFLOW__SF360__REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
    }


def edge_worker_environment(env: Mapping[str, str], host: WorkerHost) -> dict[str, str]:
    """What one Edge host sees: its own home and TMPDIR, ``[edge] api_url`` through its proxy, and nothing that
    reaches the metadata DB.

    In the split layout the worker API is a plugin of the core api-server, so ``[edge] api_url`` goes to the core
    one (through ``core_proxy``), and the host also needs ``[core] execution_api_server_url`` (the execution
    api-server) and ``[sf360] api_server_url`` (the core one).
    """
    home = host.tmpdir.parent / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    given = {name: env[name] for name in WORKER_SETTINGS if name in env}
    core = host.core_proxy or host.proxy
    worker_env = {
        **base_environment(),
        **given,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__EDGE__API_URL": f"http://127.0.0.1:{core.port}{EDGE_API_PATH}",
    }
    if host.core_proxy is not None:
        worker_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{host.proxy.port}/execution/"
        worker_env["AIRFLOW__SF360__API_SERVER_URL"] = f"http://127.0.0.1:{host.core_proxy.port}"
    return host_environment(worker_env, host)


def start_edge_worker(stage: Stage, env: Mapping[str, str], name: str, concurrency: int) -> WorkerHost:
    """Start one Edge host; its whole api-server traffic (worker API, Execution API, sf360 API) uses its proxies."""
    settings = stage.settings
    core_port = settings.api_port if settings.split_api_servers else None
    host = new_host(stage, name, settings.execution_api_port, core_port)
    worker_env = edge_worker_environment(env, host)
    leaks = [key for key, value in worker_env.items() if stage.postgres.password in value or "SQL_ALCHEMY" in key]
    if leaks:
        raise RuntimeError(f"the Edge host {name} would be able to reach the metadata DB: {leaks}")
    argv = [str(VENV_BIN / "airflow"), "edge", "worker", "--edge-hostname", name, "--concurrency", str(concurrency),
            "--pid", str(host.tmpdir.parent / "worker.pid")]
    stage.procs.start(f"worker-{name}", argv, worker_env)
    return host


def _registered(stack: AirflowStack, procs: Processes, names: tuple[str, ...]) -> bool:
    procs.check_alive()
    try:
        answer = stack.rest("GET", "/edge_worker/ui/worker")
    except (OSError, RuntimeError):
        return False
    states = {w.get("worker_name"): w.get("state") for w in answer.get("workers", [])}
    return all(states.get(name) in ("idle", "running") for name in names)


@contextmanager
def edge_world(pg_bin: Path, concurrency: int = 8, session_timeout: int = 15, keep: bool = False,
               split_api_servers: bool = False) -> Iterator[TwoHostWorld]:
    """Start everything, set the token up once (outside tasks); stop every process (also on failure).

    :param split_api_servers: run ``--apps core`` and ``--apps execution`` as two api-servers (see
        :func:`edge_worker_environment` for what the hosts then need).
    """
    settings = StackSettings(parallelism=concurrency * len(HOSTS), split_api_servers=split_api_servers)
    with staged_world(pg_bin, "sf360_edge_", settings, session_timeout, keep) as stage:
        env = edge_environment(stage.env, settings)
        stack = AirflowStack(stage.procs, env, settings)
        stack.start()
        hosts = {name: start_edge_worker(stage, env, name, concurrency) for name in HOSTS}
        wait_for(lambda: _registered(stack, stage.procs, HOSTS), 180, "both Edge workers to register", interval=1)
        set_up_token(stack)
        yield TwoHostWorld(stage.world(stack), hosts, concurrency, "EdgeExecutor", split_api_servers)
