"""The api-server's renewal endpoint (``POST /sf360/api/renew``) that tasks call.

The endpoint runs in a real HTTP server (uvicorn, the server Airflow's api-server uses) serving the provider's
router; the task side is the real ``SF360Hook`` with its task wiring. The one stand-in: the task's Variable
reads go straight to the metadata DB instead of through a supervisor and the Execution API (which lands in the
same DB); the CeleryExecutor run in tests/scale exercises that path for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from airflow_provider_sf360.core.proof import make_proof
from airflow_provider_sf360.exceptions import RefreshAnswerLostError, SalesforceUnreachableError
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE
from airflow_provider_sf360.store.variables import MetadataDbVariables, TaskVariables
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import (
    FAST_RETRY,
    ConnFactory,
    expire_cached_token,
    rotate_refresh_tokens,
    set_up_rotating_and_expired,
)

CALLERS = 50


class TaskSideVariables(TaskVariables):
    """A task's Variable access, read from the metadata DB directly (see the module docstring)."""

    _db = MetadataDbVariables()

    def get(self, key: str) -> str | None:
        return self._db.get(key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        self._db.set(key, value, description)

    def delete(self, key: str) -> None:
        self._db.delete(key)


@pytest.fixture(scope="module")
def renewal_server() -> Iterator[str]:
    """The provider's renewal router on a real HTTP server on 127.0.0.1."""
    import socket

    import uvicorn
    from fastapi import FastAPI

    from airflow_provider_sf360.plugins import renewal_api

    app = FastAPI()
    app.include_router(renewal_api.router, prefix="/sf360")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the renewal server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def api_server_url(renewal_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", renewal_server)
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    return renewal_server + "/sf360/api/renew"


@pytest.fixture
def rotating(emulator: SalesforceEmulator) -> SalesforceEmulator:
    rotate_refresh_tokens(emulator)
    return emulator


def _set_up(emulator: SalesforceEmulator, make_connection: ConnFactory) -> SF360Hook:
    return set_up_rotating_and_expired(emulator, make_connection)


def _task_hook(conn_id: str) -> SF360Hook:
    return SF360Hook(conn_id, retry=FAST_RETRY, variables=TaskSideVariables())


def _request(hook: SF360Hook, *, proof_secret: str | None, timestamp: float | None = None) -> dict[str, object]:
    state = hook.lifecycle.store.load()
    creds = hook.credentials
    moment = int(time.time() if timestamp is None else timestamp)
    body: dict[str, object] = {"conn_id": creds.conn_id, "state_key": creds.state_key,
                               "generation": state.generation, "refused": True, "timestamp": moment}
    if proof_secret is not None:
        body["proof"] = make_proof(proof_secret, purpose=RENEW_PURPOSE, subject=creds.state_key, timestamp=moment)
    return body


def test_anonymous_and_wrong_proofs_are_refused_and_redeem_nothing(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = _set_up(rotating, make_connection)
    token = hook.lifecycle.store.load().refresh_token
    assert requests.post(api_server_url, json={}, timeout=30).status_code == 401
    assert requests.post(api_server_url, json=_request(hook, proof_secret=None), timeout=30).status_code == 401
    wrong = requests.post(api_server_url, json=_request(hook, proof_secret="not-the-token"), timeout=30)
    assert wrong.status_code == 403
    stale = requests.post(api_server_url, json=_request(hook, proof_secret=token, timestamp=time.time() - 3600),
                          timeout=30)
    assert stale.status_code == 403
    assert rotating.request_counts().get("token:refresh_token", 0) == 0
    assert wrong.json() == {"detail": "The proof does not match the stored token."}  # and nothing else


def test_fifty_concurrent_callers_cause_exactly_one_refresh_grant(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = _set_up(rotating, make_connection)
    body = _request(hook, proof_secret=hook.lifecycle.store.load().refresh_token)
    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(lambda _: requests.post(api_server_url, json=body, timeout=120), range(CALLERS)))
    statuses = [answer.status_code for answer in answers]
    # The first renews; the others either see the renewed token or no longer hold the current refresh token.
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 403}, statuses
    assert sum(answer.json().get("status") == "renewed" for answer in answers) == 1
    assert rotating.request_counts()["token:refresh_token"] == 1
    assert rotating.holdings()["reuse_detections"] == 0
    for answer in answers:  # no secret in any answer
        assert "access_token" not in answer.text and "refresh_token" not in answer.text


def test_a_task_renews_through_the_api_server_and_reads_the_new_token(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = _set_up(rotating, make_connection)
    before = server_hook.lifecycle.store.load()
    task_hook = _task_hook(server_hook.sf360_conn_id)
    assert type(task_hook.lifecycle.renewer).__name__ == "ApiServerRenewer"
    sf = task_hook.get_conn()
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] >= 0
    after = server_hook.lifecycle.store.load()
    assert after.generation == before.generation + 1 and after.access_token == sf.session_id
    assert rotating.request_counts()["token:refresh_token"] == 1
    assert rotating.holdings()["reuse_detections"] == 0


def test_a_refused_access_token_is_renewed_once_for_many_tasks(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = _set_up(rotating, make_connection)
    conn_id = server_hook.sf360_conn_id
    _task_hook(conn_id).get_conn()  # renewed once
    expire_cached_token(rotating, server_hook)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _task_hook(conn_id).get_conn().session_id, range(8)))
    assert len(set(results)) == 1
    assert rotating.request_counts()["token:refresh_token"] == 2
    assert rotating.holdings()["reuse_detections"] == 0


def test_an_api_server_that_is_down_fails_the_task_retryably_and_redeems_nothing(
    rotating: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_hook = _set_up(rotating, make_connection)
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SalesforceUnreachableError) as down:
        _task_hook(server_hook.sf360_conn_id).get_conn()
    assert "api-server" in str(down.value) and "nothing was redeemed" in str(down.value)
    assert rotating.request_counts().get("token:refresh_token", 0) == 0


def test_an_unknown_outcome_on_the_api_server_reaches_the_task_as_the_same_error(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = _set_up(rotating, make_connection)
    rotating.inject_fault("token", "drop_after", count=1)
    with pytest.raises(RefreshAnswerLostError) as lost:
        _task_hook(server_hook.sf360_conn_id).get_conn()
    assert "answer was lost" in str(lost.value)
    assert rotating.holdings()["reuse_detections"] == 0
