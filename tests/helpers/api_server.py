"""A real ``airflow api-server`` as the UI tests drive it (started by tests/ui/conftest.py through
``airflow_provider_sf360.testing.api_server``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.helpers.secret_scan import record_output

API_SECRET_KEY = "sf360-ui-tests-secret-key"  # the api-server's [api] secret_key, known to tests that forge states
UI_REQUEST_TIMEOUT = 5.0  # the api-server's [sf360] request_timeout; a longer emulator delay is a timeout


@dataclass
class ApiServer:
    """A running api-server: its URL, the users' passwords and a token cache."""

    url: str
    passwords: dict[str, str]
    log_path: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            answer = requests.post(
                f"{self.url}/auth/token",
                json={"username": username, "password": self.passwords[username]},
                timeout=30,
            )
            answer.raise_for_status()
            self._tokens[username] = answer.json()["access_token"]
        return self._tokens[username]

    def session(self, username: str | None) -> requests.Session:
        """A requests session, authenticated by the ``_token`` cookie like a browser (None: anonymous)."""
        http = requests.Session()
        http.hooks["response"].append(lambda response, *args, **kwargs: record_output(response.text))  # secret scan
        if username:
            http.cookies.set("_token", self.token(username), domain="127.0.0.1", path="/")
        return http

    def callback_url(self) -> str:
        return f"{self.url}/sf360/callback"
