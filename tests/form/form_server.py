"""A real ``airflow api-server`` and a Chromium page signed in as admin, for the connection-form tests.

Own small fixture module (no conftest import): the server runs in its own process group and is stopped at the
end of the module's tests. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
                 "--no-first-run", "--disable-component-update"]


@dataclass(frozen=True)
class FormServer:
    url: str
    admin_token: str

    def connection(self, conn_id: str) -> dict[str, Any] | None:
        answer = requests.get(f"{self.url}/api/v2/connections/{conn_id}",
                              headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30)
        return dict(answer.json()) if answer.status_code == 200 else None

    def delete(self, conn_id: str) -> None:
        requests.delete(f"{self.url}/api/v2/connections/{conn_id}",
                        headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api-server exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"api-server not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def form_server(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FormServer]:
    """``airflow api-server`` on a free port with the simple auth manager (admin user)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin", "AIRFLOW__API__BASE_URL": url,
           "_AIRFLOW_PROCESS_CONTEXT": "server"}
    log = tmp_path_factory.mktemp("form_server") / "api-server.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as out:
        proc = subprocess.Popen([airflow, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_healthy(url, proc, log)
        passwords = json.loads((airflow_db / "simple_auth_manager_passwords.json.generated").read_text())
        answer = requests.post(f"{url}/auth/token", json={"username": "admin", "password": passwords["admin"]},
                               timeout=30)
        answer.raise_for_status()
        yield FormServer(url, answer.json()["access_token"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def form_page(form_server: FormServer) -> Iterator[Any]:
    """A Chromium page with the admin's ``_token`` cookie."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([{"name": "_token", "value": form_server.admin_token, "url": form_server.url}])
        page = context.new_page()
        page.set_default_timeout(45_000)
        yield page
        context.close()
        browser.close()
