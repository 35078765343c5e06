"""How a task finds the api-server's sf360 API, and how each wrong wiring fails: once, permanently, one message.

The address follows what the task's own Execution API client uses (``store/plugin_api.py``). The wrong wirings
are answered by real HTTP servers on 127.0.0.1: Airflow's own execution-only app (``create_app(apps="execution")``,
what ``airflow api-server --apps execution`` serves) for the 404, and a small canned server for a core API
without the sf360 plugin (405), a redirect, a web page and a proxy's 502. Each test counts the requests the
server received (one: no retry loop) and the grants Salesforce issued (none).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from airflow_provider_sf360.core import errors as core_errors
from airflow_provider_sf360.exceptions import ApiServerWiringError, SalesforceUnreachableError
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.store.plugin_api import api_server_base, plugin_api_base
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import FAST_RETRY, ConnFactory, set_up_rotating_and_expired
from tests.helpers.task_variables import TaskSideVariables
from tests.helpers.threaded_server import serving_in_a_thread

WIRING_OPTIONS = (
    "AIRFLOW__SF360__API_SERVER_URL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__WORKERS__EXECUTION_API_SERVER_URL",
    "AIRFLOW__EDGE__API_URL",
    "AIRFLOW__API__BASE_URL",
)


@pytest.fixture
def no_wiring(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in WIRING_OPTIONS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_sf360_option_wins(no_wiring: pytest.MonkeyPatch) -> None:
    no_wiring.setenv("AIRFLOW__SF360__API_SERVER_URL", "http://core-api:8080/airflow/")
    no_wiring.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://exec-api:8080/execution/")
    assert plugin_api_base() == "http://core-api:8080/airflow/sf360/api"


def test_celery_local_and_kubernetes_workers_use_the_execution_api_url(no_wiring: pytest.MonkeyPatch) -> None:
    no_wiring.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://api:8080/base/execution/")
    no_wiring.setenv("AIRFLOW__EDGE__API_URL", "http://elsewhere:9/edge_worker/v1/rpcapi")
    assert api_server_base() == "http://api:8080/base"


def test_an_edge_worker_task_derives_it_from_the_edge_api_url_as_the_worker_does(
    no_wiring: pytest.MonkeyPatch,
) -> None:
    no_wiring.setenv("AIRFLOW__EDGE__API_URL", "https://airflow.example.com/base/edge_worker/v1/rpcapi")
    assert plugin_api_base() == "https://airflow.example.com/base/sf360/api"


def test_an_absolute_api_base_url_is_used_as_airflow_does(no_wiring: pytest.MonkeyPatch) -> None:
    no_wiring.setenv("AIRFLOW__API__BASE_URL", "http://api.internal:8080/")
    assert api_server_base() == "http://api.internal:8080"


@pytest.mark.parametrize("base_url", ["", "/airflow"])
def test_nothing_known_raises_a_permanent_error_naming_the_option(
    no_wiring: pytest.MonkeyPatch, base_url: str
) -> None:
    if base_url:
        no_wiring.setenv("AIRFLOW__API__BASE_URL", base_url)  # relative: Airflow would guess localhost:8080
    with pytest.raises(core_errors.ApiServerWiringError) as unknown:
        plugin_api_base()
    assert unknown.value.permanent
    assert "[sf360] api_server_url" in str(unknown.value) and "localhost" not in str(unknown.value)


# ------------------------------------------------------------------------------------------- wrong answers
class CannedServer(http.server.ThreadingHTTPServer):
    """Answers every POST with one canned status, headers and body; counts the requests."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _CannedHandler)
        self.status, self.body, self.headers, self.requests = status, body, headers, 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CannedHandler(http.server.BaseHTTPRequestHandler):
    server: CannedServer

    def do_POST(self) -> None:  # the stdlib handler name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        self.send_response(self.server.status)
        for name, value in {**self.server.headers, "Content-Length": str(len(self.server.body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canned(request: pytest.FixtureRequest) -> Iterator[CannedServer]:
    status, body, headers = request.param
    server = CannedServer(status, body, headers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def execution_only_api_server(airflow_db: object) -> Iterator[str]:
    """Airflow's own execution-only api-server app (``--apps execution``) under uvicorn on 127.0.0.1."""
    from airflow.api_fastapi.app import create_app

    with serving_in_a_thread(create_app(apps="execution")) as url:
        yield url


def _renew_through(emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch,
                   api_server_url: str) -> pytest.ExceptionInfo[Exception]:
    server_hook = set_up_rotating_and_expired(emulator, make_connection)
    grants_before = emulator.request_counts().get("token", 0)
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", api_server_url)
    task_hook = SF360Hook(server_hook.sf360_conn_id, retry=FAST_RETRY, variables=TaskSideVariables())
    with pytest.raises(Exception) as failed:  # the type is asserted by each caller
        task_hook.get_conn()
    assert emulator.request_counts().get("token", 0) == grants_before  # nothing was redeemed
    assert emulator.holdings()["reuse_detections"] == 0
    return failed


def test_an_execution_only_api_server_fails_the_task_at_once_with_one_message(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch,
    execution_only_api_server: str,
) -> None:
    failed = _renew_through(emulator, make_connection, monkeypatch, execution_only_api_server)
    assert failed.type is ApiServerWiringError
    message = str(failed.value)
    assert "HTTP 404" in message and "--apps execution" in message and "[sf360] api_server_url" in message
    assert "nothing was redeemed" in message


CORE_WITHOUT_PLUGIN = (405, b'{"detail":"Method Not Allowed"}', {"Content-Type": "application/json"})
REDIRECT = (307, b"", {"Location": "https://login.example.com/"})
WEB_PAGE = (200, b"<!doctype html><html><body>Airflow</body></html>", {"Content-Type": "text/html"})
PROXY_NOT_FOUND = (404, b"<html>404 Not Found</html>", {"Content-Type": "text/html"})


@pytest.mark.parametrize(("canned", "expected"), [
    (CORE_WITHOUT_PLUGIN, "HTTP 405"),
    (REDIRECT, "redirect (HTTP 307)"),
    (WEB_PAGE, "not the sf360 API's JSON"),
    (PROXY_NOT_FOUND, "HTTP 404"),
], indirect=["canned"], ids=["core-api-without-plugin", "redirect", "web-page", "proxy-404"])
def test_each_wrong_wiring_is_one_permanent_message_and_one_request(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch,
    canned: CannedServer, expected: str,
) -> None:
    failed = _renew_through(emulator, make_connection, monkeypatch, canned.url)
    assert failed.type is ApiServerWiringError, failed.value
    assert expected in str(failed.value) and "[sf360] api_server_url" in str(failed.value)
    assert canned.requests == 1  # asked once: no retry loop


@pytest.mark.parametrize("canned", [(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})],
                         indirect=True, ids=["gateway-error"])
def test_a_gateway_error_in_front_of_a_restarting_api_server_stays_retryable(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch,
    canned: CannedServer,
) -> None:
    failed = _renew_through(emulator, make_connection, monkeypatch, canned.url)
    assert failed.type is SalesforceUnreachableError
    assert canned.requests == 1
