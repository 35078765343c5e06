"""A real ``airflow api-server`` for tests and benchmarks: started on a free loopback port, stopped with its group.

The api-server runs in its own process group (uvicorn starts workers), so stopping it ends every process it
started. Used by the UI and form tests and by ``bench/page_render.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

HEALTH_PATH = "/api/v2/monitor/health"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    """Wait until the api-server at ``url`` answers its health check; raise with its log if it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api-server exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(url + HEALTH_PATH, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"api-server not healthy after {timeout}s:\n{log_path.read_text()[-4000:]}")


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it if it does not end within ``grace`` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def running_api_server(env: Mapping[str, str], log_path: Path, timeout: float = 120) -> Iterator[str]:
    """``airflow api-server`` with ``env`` (plus its own ``[api] base_url``); yields its URL while it is healthy.

    :param env: the process environment (Airflow home, metadata DB, options).
    :param log_path: where its output goes (read back when it fails to start).
    :param timeout: seconds to wait for the health check.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [airflow, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            stdout=log, stderr=subprocess.STDOUT, env={**env, "AIRFLOW__API__BASE_URL": url}, start_new_session=True,
        )
    try:
        wait_healthy(url, proc, log_path, timeout)
        yield url
    finally:
        stop_process_group(proc)
