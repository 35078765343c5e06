"""The api-server's renewal endpoint (``POST /sf360/api/renew``) that tasks call, and the attacks on it.

The endpoint runs in a real HTTP server (uvicorn, the server Airflow's api-server uses) serving the provider's
router; a second replica runs in a process of its own. The task side is the real ``SF360Hook`` with its task
wiring. The one stand-in: the task's Variable reads go straight to the metadata DB instead of through a
supervisor and the Execution API (which lands in the same DB); the CeleryExecutor run in tests/scale exercises
that path for real. Tests read the server's in-process queue state (never change it) to know when a request
is queued.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from airflow_provider_sf360.core.proof import proven_request
from airflow_provider_sf360.exceptions import RefreshAnswerLostError, SalesforceUnreachableError
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.plugins import renewal_api
from airflow_provider_sf360.store.locks import HostLock
from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE
from airflow_provider_sf360.store.variables import MetadataDbVariables
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing.api_server import free_port, stop_process_group
from tests.helpers.lifecycle import (
    FAST_RETRY,
    ConnFactory,
    expire_cached_token,
    hook_for,
    rotate_refresh_tokens,
    set_up_rotating_and_expired,
    set_up_web_flow,
)
from tests.helpers.task_variables import TaskSideVariables
from tests.helpers.threaded_server import serving_in_a_thread

CALLERS = 50
FLOOD = 400
REFUSED = {"detail": renewal_api.REFUSED_DETAIL}
OTHER_STATE_KEY = "sf360_token__00D000000000000AAA__005000000000000AAA__0123456789ab"


@pytest.fixture(scope="module")
def renewal_server() -> Iterator[str]:
    """The provider's renewal router on a real HTTP server on 127.0.0.1."""
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(renewal_api.router, prefix="/sf360")
    with serving_in_a_thread(app) as url:
        yield url


@pytest.fixture
def api_server_url(renewal_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", renewal_server)
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    return renewal_server + "/sf360/api/renew"


@pytest.fixture
def rotating(emulator: SalesforceEmulator) -> SalesforceEmulator:
    rotate_refresh_tokens(emulator)
    return emulator


REPLICA_APP = """
import sys, uvicorn
from fastapi import FastAPI
from airflow_provider_sf360.plugins import renewal_api
app = FastAPI()
app.include_router(renewal_api.router, prefix="/sf360")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@contextmanager
def another_replica() -> Iterator[str]:
    """A second api-server process serving the renewal route (its own memory, the same metadata DB and host)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", REPLICA_APP, str(port)], env=dict(os.environ),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/sf360/api/renew"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()[-3000:]
            assert time.monotonic() < deadline, "the second replica did not start"
            try:
                if requests.post(url, json={}, timeout=2).status_code == 422:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc)


def _task_hook(conn_id: str) -> SF360Hook:
    return SF360Hook(conn_id, retry=FAST_RETRY, variables=TaskSideVariables())


def _signed(hook: SF360Hook, *, secret: str | None = None, timestamp: float | None = None, refused: bool = True,
            **fields: Any) -> dict[str, Any]:
    """A renewal request for the hook's stored token, signed with ``secret`` (default: the stored refresh token)."""
    state = hook.lifecycle.store.load()
    assert state is not None and state.refresh_token
    claim = {"conn_id": hook.credentials.conn_id, "state_key": hook.credentials.state_key,
             "generation": state.generation, "refused": refused, **fields}
    moment = int(time.time() if timestamp is None else timestamp)
    return dict(proven_request(secret or state.refresh_token, purpose=RENEW_PURPOSE, fields=claim, timestamp=moment))


def _post(url: str, body: dict[str, Any], timeout: float = 60) -> requests.Response:
    return requests.post(url, json=body, timeout=timeout)


def _grants(emulator: SalesforceEmulator) -> int:
    return emulator.request_counts().get("token:refresh_token", 0)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _queued(state_key: str) -> int:
    """How many proven requests the in-process server holds in this credential's queue (read only)."""
    queue = renewal_api._queues.get(state_key)
    return queue.members if queue is not None else 0


@contextmanager
def renewal_lock_held(state_key: str) -> Iterator[None]:
    """Another renewer of this host holds the credential's lock until the block ends."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with HostLock(state_key, wait_seconds=60).hold():
            held.set()
            release.wait(90)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(30)


def _set_up_without_rotation(emulator: SalesforceEmulator, make_connection: ConnFactory) -> SF360Hook:
    """A web-flow token whose refresh token stays the same across renewals (rotation off), made stale."""
    hook = hook_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, hook)
    expire_cached_token(emulator, hook)
    return hook


# ------------------------------------------------------------------ refusals: one answer, nothing looked up
def test_every_refusal_is_the_same_answer_whatever_the_cause(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    monkeypatch.setenv("AIRFLOW_CONN_SOME_POSTGRES", json.dumps({
        "conn_type": "postgres", "host": "db.internal.example", "login": "scott", "password": "tiger-db-secret"}))
    make_connection("authorization_code", conn_id="sf360_bad_fields", org_id="not-an-org-id")
    causes = {
        "no such connection": _signed(hook, conn_id="sf360_nowhere"),
        "a postgres connection": _signed(hook, conn_id="some_postgres"),
        "an sf360 connection with invalid fields": _signed(hook, conn_id="sf360_bad_fields"),
        "a state key with no token": _signed(hook, state_key=OTHER_STATE_KEY),
        "a proof made with another secret": _signed(hook, secret="not-the-refresh-token"),
        "a stale proof": _signed(hook, timestamp=time.time() - 3600),
        "a proof from the future": _signed(hook, timestamp=time.time() + 3600),
        "a generation that is not stored": _signed(hook, generation=99),
    }
    answers = {cause: _post(api_server_url, body) for cause, body in causes.items()}
    for cause, answer in answers.items():
        assert (answer.status_code, answer.json()) == (403, REFUSED), cause
        assert "db.internal" not in answer.text and "not-an-org-id" not in answer.text, cause
    assert _grants(rotating) == 0


def test_a_replayed_refusal_is_the_same_answer_too(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    body = _signed(hook)
    assert _post(api_server_url, body).json()["status"] == "renewed"
    replay = _post(api_server_url, body)
    assert (replay.status_code, replay.json()) == (403, REFUSED)


@pytest.mark.slow
def test_unproven_requests_never_wait_on_the_credential_lock(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    """A flood of requests without a valid proof is answered while a renewal holds the lock, and costs it little."""
    hook = set_up_rotating_and_expired(rotating, make_connection)
    state_key = hook.credentials.state_key
    forged = [_signed(hook, secret=f"guess-{n}") for n in range(FLOOD)]
    with ThreadPoolExecutor(17) as pool, renewal_lock_held(state_key):
        legit = pool.submit(_post, api_server_url, _signed(hook))
        _wait_for(lambda: _queued(state_key) == 1, "the real renewal did not queue")
        started = time.monotonic()
        answers = list(pool.map(lambda body: _post(api_server_url, body, timeout=30), forged))
        flood_seconds = time.monotonic() - started
        assert not legit.done()  # the lock is still held: no forged request waited for it
    assert {(a.status_code, a.text) for a in answers} == {(403, json.dumps(REFUSED, separators=(",", ":")))}
    assert legit.result(timeout=60).json()["status"] == "renewed"
    assert flood_seconds < 30, flood_seconds
    with ThreadPoolExecutor(64) as pool:  # a real renewal during a flood is not queued behind it
        flood = [pool.submit(_post, api_server_url, body) for body in [_signed(hook, secret="x")] * FLOOD]
        expire_cached_token(rotating, hook)
        started = time.monotonic()
        assert _post(api_server_url, _signed(hook)).json()["status"] == "renewed"
        renewal_seconds = time.monotonic() - started
        assert all(f.result().status_code == 403 for f in flood)
    assert renewal_seconds < 2.0, renewal_seconds
    assert _grants(rotating) == 2


# ------------------------------------------------------------------ every field signed, each proof once
@pytest.mark.parametrize(("field", "value"), [
    ("refused", False), ("generation", 2), ("conn_id", "sf360_other"), ("state_key", OTHER_STATE_KEY),
    ("timestamp", 1), ("nonce", "0" * 32),
])
def test_a_field_changed_after_signing_breaks_the_proof(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, field: str, value: Any
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    body = _signed(hook)
    body[field] = value if field != "timestamp" else body["timestamp"] + value
    answer = _post(api_server_url, body)
    assert (answer.status_code, answer.json()) == (403, REFUSED)
    assert _grants(rotating) == 0


def test_replayed_renewal_proof_is_refused(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    """Without rotation the refresh token (the proof's key) stays the same: ten replays used to be ten grants."""
    hook = _set_up_without_rotation(emulator, make_connection)
    body = _signed(hook, refused=True)
    statuses = [_post(api_server_url, body).status_code for _ in range(10)]
    assert statuses == [200] + [403] * 9
    assert _grants(emulator) == 1


def test_a_replayed_proof_is_refused_even_when_its_generation_is_still_stored(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    """Only the nonce tells this replay apart: the token was current, so nothing moved on."""
    hook = _set_up_without_rotation(emulator, make_connection)
    _post(api_server_url, _signed(hook, refused=False))  # renewed: the stored token is fresh now
    body = _signed(hook, refused=False)
    assert [_post(api_server_url, body).status_code for _ in range(3)] == [200, 403, 403]
    assert _grants(emulator) == 1


@pytest.mark.slow
def test_a_replay_to_another_replica_is_refused_by_its_generation(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    """The second replica never saw the nonce; the generation the proof was made for is no longer stored."""
    hook = _set_up_without_rotation(emulator, make_connection)
    body = _signed(hook, refused=True)
    assert _post(api_server_url, body).json()["status"] == "renewed"
    with another_replica() as replica:
        replay = _post(replica, body)
        assert (replay.status_code, replay.json()) == (403, REFUSED)
        assert _post(replica, _signed(hook, refused=False)).json()["status"] == "current"  # it works
    assert _grants(emulator) == 1


@pytest.mark.slow
def test_a_request_replayed_to_two_replicas_at_once_redeems_once(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    """Both replicas verify the same proof at once; under the lock only the stored access token is replaced."""
    hook = _set_up_without_rotation(emulator, make_connection)
    with another_replica() as replica:
        warm_up = _post(replica, _signed(hook, conn_id="sf360_nowhere"))  # its first proof and connection read
        assert warm_up.status_code == 403
        body = _signed(hook, refused=True)
        with ThreadPoolExecutor(2) as pool, renewal_lock_held(hook.credentials.state_key):
            answers = [pool.submit(_post, url, body) for url in (api_server_url, replica)]
            _wait_for(lambda: _queued(hook.credentials.state_key) == 1, "the request did not queue")
            time.sleep(1.0)  # the replica's copy verifies and waits for the same host lock
        statuses = [a.result().status_code for a in answers]
    assert statuses == [200, 200]
    assert _grants(emulator) == 1


# ------------------------------------------------------------------ bounded queues, callers that left
def test_an_over_full_credential_queue_answers_busy_at_once(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    state_key = hook.credentials.state_key
    limit = renewal_api.MAX_QUEUED_PER_CREDENTIAL
    bodies = [_signed(hook, refused=False) for _ in range(limit + 6)]
    with ThreadPoolExecutor(len(bodies)) as pool, renewal_lock_held(state_key):
        queued = [pool.submit(_post, api_server_url, body) for body in bodies[:limit]]
        _wait_for(lambda: _queued(state_key) == limit, f"{limit} requests did not queue")
        started = time.monotonic()
        over = [_post(api_server_url, body) for body in bodies[limit:]]
        assert time.monotonic() - started < 5
    for answer in over:
        assert answer.status_code == 503 and answer.json()["reason"] == "unreachable"
        assert "Nothing was redeemed" in answer.json()["detail"]
    outcomes = sorted(f.result().json()["status"] for f in queued)
    assert outcomes == ["current"] * (limit - 1) + ["renewed"]
    assert _grants(rotating) == 1


def test_an_over_full_server_answers_busy_at_once(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound over every credential (set low here: the same code path as the default's)."""
    hook = set_up_rotating_and_expired(rotating, make_connection)
    monkeypatch.setattr(renewal_api, "MAX_REQUESTS_IN_FLIGHT", 3)
    with ThreadPoolExecutor(3) as pool, renewal_lock_held(hook.credentials.state_key):
        waiting = [pool.submit(_post, api_server_url, _signed(hook)) for _ in range(3)]
        _wait_for(lambda: renewal_api._in_flight == 3, "three requests did not get in")
        busy = _post(api_server_url, _signed(hook), timeout=5)
    assert busy.status_code == 503 and busy.json()["reason"] == "unreachable"
    assert sorted(f.result().status_code for f in waiting) == [200, 200, 200]


def _send_and_leave(url: str, body: dict[str, Any], stay: Callable[[], bool]) -> None:
    """Send a request on a raw socket and close it once ``stay()`` is False (the caller gave up)."""
    split = url.removeprefix("http://").split("/", 1)
    host, port = split[0].split(":")
    payload = json.dumps(body).encode()
    head = (f"POST /{split[1]} HTTP/1.1\r\nHost: {split[0]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + payload)
        _wait_for(lambda: not stay(), "the request did not queue")


def test_a_queued_renewal_whose_caller_left_is_not_run(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__MAX_ATTEMPTS", "1")
    hook = set_up_rotating_and_expired(rotating, make_connection)
    state_key = hook.credentials.state_key
    with ThreadPoolExecutor(1) as pool, renewal_lock_held(state_key):
        first = pool.submit(_post, api_server_url, _signed(hook))
        _wait_for(lambda: _queued(state_key) == 1, "the first request did not queue")
        _send_and_leave(api_server_url, _signed(hook), stay=lambda: _queued(state_key) < 2)
        rotating.inject_fault("token", "503", count=5)  # the first grant fails: the token stays to be redeemed
    assert first.result(timeout=60).status_code == 503
    _wait_for(lambda: _queued(state_key) == 0, "the second request was not dropped")
    assert _grants(rotating) == 1  # the second one would have sent a grant of its own


# ------------------------------------------------------------------ malformed input, corrupt state
MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "a non-ASCII proof": lambda body: {**body, "proof": "é" * 64},
    "a 400-digit timestamp": lambda body: {**body, "timestamp": int("9" * 400)},
    "a negative timestamp": lambda body: {**body, "timestamp": -1},
    "a float timestamp": lambda body: {**body, "timestamp": 1.5e9},
    "a text generation": lambda body: {**body, "generation": "1"},
    "a numeric refused flag": lambda body: {**body, "refused": 1},
    "a list for a conn id": lambda body: {**body, "conn_id": ["a"]},
    "a state key of another form": lambda body: {**body, "state_key": "sf360_status__x"},
    "an unsigned extra field": lambda body: {**body, "note": "x"},
    "no proof": lambda body: {k: v for k, v in body.items() if k != "proof"},
    "no nonce": lambda body: {k: v for k, v in body.items() if k != "nonce"},
    "an upper-case proof": lambda body: {**body, "proof": body["proof"].upper()},
    "a JSON list": lambda body: [body],
    "null": lambda body: None,
    "nested too deep": lambda body: "[" * 2000 + "]" * 2000,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_renewal_request_gets_a_clean_422(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, case: str
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    body = MALFORMED[case](_signed(hook))
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    answer = requests.post(api_server_url, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert (answer.status_code, answer.json()) == (422, {"detail": renewal_api.MALFORMED_DETAIL}), case
    assert _grants(rotating) == 0


def test_raw_bytes_and_oversized_bodies_get_a_clean_422(api_server_url: str) -> None:
    for raw in (b"\xff\xfe{", b"{" + b" " * 100_000 + b"}", b"", b"{}"):
        answer = requests.post(api_server_url, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 422, raw[:20]


def test_a_corrupt_token_state_is_a_clear_provider_error(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    body = _signed(hook)
    MetadataDbVariables().set(hook.credentials.state_key, '{"status": "active", "access_token": 42}')
    answer = _post(api_server_url, body)
    assert answer.status_code == 409
    assert answer.json()["reason"] == "state_unreadable" and "Reset the OAuth token" in answer.json()["detail"]
    assert _grants(rotating) == 0


# ------------------------------------------------------------------ the task side
def test_fifty_concurrent_callers_cause_exactly_one_refresh_grant(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = set_up_rotating_and_expired(rotating, make_connection)
    bodies = [_signed(hook) for _ in range(CALLERS)]
    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(lambda body: _post(api_server_url, body, timeout=120), bodies))
    statuses = [answer.status_code for answer in answers]
    # The first renews; the others see the renewed token, or no longer hold the current refresh token.
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 403}, statuses
    assert sum(answer.json().get("status") == "renewed" for answer in answers) == 1
    assert _grants(rotating) == 1
    assert rotating.holdings()["reuse_detections"] == 0
    for answer in answers:  # no secret in any answer
        assert "access_token" not in answer.text and "refresh_token" not in answer.text


def test_a_task_renews_through_the_api_server_and_reads_the_new_token(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = set_up_rotating_and_expired(rotating, make_connection)
    before = server_hook.lifecycle.store.load()
    task_hook = _task_hook(server_hook.sf360_conn_id)
    assert type(task_hook.lifecycle.renewer).__name__ == "ApiServerRenewer"
    sf = task_hook.get_conn()
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] >= 0
    after = server_hook.lifecycle.store.load()
    assert after.generation == before.generation + 1 and after.access_token == sf.session_id
    assert _grants(rotating) == 1
    assert rotating.holdings()["reuse_detections"] == 0


def test_a_refused_access_token_is_renewed_once_for_many_tasks(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = set_up_rotating_and_expired(rotating, make_connection)
    conn_id = server_hook.sf360_conn_id
    _task_hook(conn_id).get_conn()  # renewed once
    expire_cached_token(rotating, server_hook)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _task_hook(conn_id).get_conn().session_id, range(8)))
    assert len(set(results)) == 1
    assert _grants(rotating) == 2
    assert rotating.holdings()["reuse_detections"] == 0


def test_an_api_server_that_is_down_fails_the_task_retryably_and_redeems_nothing(
    rotating: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_hook = set_up_rotating_and_expired(rotating, make_connection)
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SalesforceUnreachableError) as down:
        _task_hook(server_hook.sf360_conn_id).get_conn()
    assert "api-server" in str(down.value) and "nothing was redeemed" in str(down.value)
    assert _grants(rotating) == 0


def test_an_unknown_outcome_on_the_api_server_reaches_the_task_as_the_same_error(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    server_hook = set_up_rotating_and_expired(rotating, make_connection)
    rotating.inject_fault("token", "drop_after", count=1)
    with pytest.raises(RefreshAnswerLostError) as lost:
        _task_hook(server_hook.sf360_conn_id).get_conn()
    assert "answer was lost" in str(lost.value)
    assert rotating.holdings()["reuse_detections"] == 0


@pytest.mark.slow
def test_a_task_gives_up_only_after_the_api_server_would_have(
    rotating: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The api-server stops waiting for a stuck renewer first: the task gets its answer, not a timeout of its own."""
    from airflow_provider_sf360.store.plugin_api import renewal_answer_timeout

    monkeypatch.setenv("AIRFLOW__SF360__LOCK_WAIT_TIMEOUT", "2")
    server_hook = set_up_rotating_and_expired(rotating, make_connection)
    assert renewal_answer_timeout() > 3 * 2 + 120  # the queue, two lock waits, and at least one grant's answer
    started = time.monotonic()
    with renewal_lock_held(server_hook.credentials.state_key), pytest.raises(SalesforceUnreachableError) as stuck:
        _task_hook(server_hook.sf360_conn_id).get_conn()
    assert "Waited 2 s" in str(stuck.value) and time.monotonic() - started < 30
    assert _grants(rotating) == 0


# ------------------------------------------------------------------ machine flows through the api-server
@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials"])
def test_many_cold_tasks_of_a_machine_flow_make_one_grant(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str, flow: str
) -> None:
    """Pods that share nothing but the api-server and the metadata DB: the first obtains the token, the rest use it."""
    conn_id = make_connection(flow)
    hooks = [_task_hook(conn_id) for _ in range(CALLERS)]
    with ThreadPoolExecutor(16) as pool:
        tokens = list(pool.map(lambda hook: hook.lifecycle.current_token().access_token, hooks))
    assert len(set(tokens)) == 1
    assert emulator.request_counts()[f"token:{flow}"] == 1


def test_a_machine_flow_proof_is_keyed_with_the_connection_secret(
    emulator: SalesforceEmulator, make_connection: ConnFactory, api_server_url: str
) -> None:
    hook = _task_hook(make_connection("client_credentials"))
    claim = {"conn_id": hook.credentials.conn_id, "state_key": hook.credentials.state_key, "generation": 0,
             "refused": False}
    forged = dict(proven_request("not-the-secret", purpose=RENEW_PURPOSE, fields=claim, timestamp=int(time.time())))
    assert _post(api_server_url, forged).json() == REFUSED
    assert emulator.request_counts().get("token:client_credentials", 0) == 0


def test_a_machine_flow_obtains_its_token_itself_when_the_api_server_is_down(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AIRFLOW__SF360__RENEWAL", "api_server")
    hook = _task_hook(make_connection("jwt_bearer"))
    assert hook.lifecycle.current_token().access_token  # no api-server: the task mints, harmless without RT
    assert emulator.request_counts()["token:jwt_bearer"] == 1
