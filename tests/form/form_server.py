"""A real ``airflow api-server`` and a Chromium page signed in as admin, for the connection-form tests.

Own small fixture module (no conftest import): the server runs in its own process group and is stopped at the
end of the module's tests. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.testing.api_server import running_api_server

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


@pytest.fixture(scope="module")
def form_server(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FormServer]:
    """``airflow api-server`` on a free port with the simple auth manager (admin user)."""
    env = {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "_AIRFLOW_PROCESS_CONTEXT": "server"}
    log = tmp_path_factory.mktemp("form_server") / "api-server.log"
    with running_api_server(env, log) as url:
        passwords = json.loads((airflow_db / "simple_auth_manager_passwords.json.generated").read_text())
        answer = requests.post(f"{url}/auth/token", json={"username": "admin", "password": passwords["admin"]},
                               timeout=30)
        answer.raise_for_status()
        yield FormServer(url, answer.json()["access_token"])


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
