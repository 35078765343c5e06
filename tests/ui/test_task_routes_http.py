"""Attacks on the routes tasks call without an Airflow identity (``/sf360/api/audit``, ``/sf360/api/renew``),
against a real api-server: forged, moved, replayed and malformed entries, other connection types' secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_sf360.core.proof import proven_request
from airflow_provider_sf360.plugins import audit_api, renewal_api
from airflow_provider_sf360.store.audit import PROOF_PURPOSE
from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE
from airflow_provider_sf360.testing import DEFAULT_CONSUMER_SECRET
from tests.helpers.api_server import ApiServer

pytestmark = pytest.mark.timeout(240)
POSTGRES_CONN = "sf360_tests_postgres"
POSTGRES_PASSWORD = "tiger-postgres-password"
AUDIT_REFUSED = {"detail": audit_api.REFUSED_DETAIL}
RENEW_REFUSED = {"detail": renewal_api.REFUSED_DETAIL}


@pytest.fixture
def postgres_connection(api_server: ApiServer) -> Iterator[str]:
    """A connection of another type, with a password, in the metadata DB."""
    admin = {"Authorization": f"Bearer {api_server.token('admin')}"}
    body = {"connection_id": POSTGRES_CONN, "conn_type": "postgres", "host": "db.internal.example",
            "login": "scott", "password": POSTGRES_PASSWORD, "schema": "warehouse"}
    requests.delete(f"{api_server.url}/api/v2/connections/{POSTGRES_CONN}", headers=admin, timeout=30)
    made = requests.post(f"{api_server.url}/api/v2/connections", json=body, headers=admin, timeout=30)
    assert made.status_code == 201, made.text
    yield POSTGRES_CONN
    requests.delete(f"{api_server.url}/api/v2/connections/{POSTGRES_CONN}", headers=admin, timeout=30)


def _entry(conn_id: str, **fields: Any) -> dict[str, Any]:
    return {"event": "test_access", "conn_id": conn_id, "outcome": "success", "dag_id": "d1", "task_id": "t1",
            "run_id": "r1", "message": "Access test succeeded", **fields}


def _prove(entry: dict[str, Any], secret: str = DEFAULT_CONSUMER_SECRET) -> dict[str, Any]:
    return dict(proven_request(secret, purpose=PROOF_PURPOSE, fields=entry, timestamp=int(time.time())))


def _audit_rows(conn_id: str) -> list[Any]:
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Log).where(Log.event.startswith("sf360."))).all()
        return [(row.run_id, json.loads(row.extra or "{}")) for row in rows
                if json.loads(row.extra or "{}").get("conn_id") == conn_id]


def _post(api_server: ApiServer, route: str, body: Any) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{api_server.url}/sf360/api/{route}", data=raw,
                         headers={"Content-Type": "application/json"}, timeout=30)


# ------------------------------------------------------------------ the audit route
def test_a_line_moved_between_audit_fields_breaks_the_proof(api_server: ApiServer, make_connection: Any) -> None:
    conn_id = make_connection("sf360_audit_moved")
    signed = _prove(_entry(conn_id, run_id="r1\nsecond line", message="m"))
    moved = {**signed, "run_id": "r1", "message": "second line\nm"}  # one joined text under the old encoding
    answer = _post(api_server, "audit", moved)
    assert (answer.status_code, answer.json()) == (403, AUDIT_REFUSED)
    assert _audit_rows(conn_id) == []


def test_none_and_empty_audit_fields_are_signed_apart(api_server: ApiServer, make_connection: Any) -> None:
    conn_id = make_connection("sf360_audit_none")
    signed = _prove(_entry(conn_id, dag_id=None, task_id=None, run_id=None))
    for field in ("dag_id", "task_id", "run_id"):
        answer = _post(api_server, "audit", {**signed, field: ""})
        assert (answer.status_code, answer.json()) == (403, AUDIT_REFUSED), field
    assert _post(api_server, "audit", signed).status_code == 200
    assert [run_id for run_id, _ in _audit_rows(conn_id)] == [None]


def test_replayed_audit_entry_is_refused(api_server: ApiServer, make_connection: Any) -> None:
    conn_id = make_connection("sf360_audit_replay")
    signed = _prove(_entry(conn_id))
    statuses = [_post(api_server, "audit", signed).status_code for _ in range(3)]
    assert statuses == [200, 403, 403]
    assert len(_audit_rows(conn_id)) == 1


def test_an_audit_entry_replayed_to_another_replica_is_refused(api_server: ApiServer, make_connection: Any) -> None:
    """This test process stands for a second api-server: it never saw the nonce, the audit log did."""
    conn_id = make_connection("sf360_audit_replica")
    signed = _prove(_entry(conn_id))
    assert _post(api_server, "audit", signed).status_code == 200
    claim = audit_api.parse_audit_claim(json.dumps(signed).encode())
    assert claim is not None and claim.nonce not in audit_api._seen_nonces
    assert audit_api.record_task_entry(claim, time.time()) is False
    assert len(_audit_rows(conn_id)) == 1


def test_a_postgres_password_does_not_prove_an_audit_entry(api_server: ApiServer, postgres_connection: str) -> None:
    answer = _post(api_server, "audit", _prove(_entry(postgres_connection), secret=POSTGRES_PASSWORD))
    assert (answer.status_code, answer.json()) == (403, AUDIT_REFUSED)
    assert _audit_rows(postgres_connection) == []


# ------------------------------------------------------------------ malformed input on both routes
def _malformed_bodies(valid: dict[str, Any]) -> dict[str, Any]:
    return {
        "a non-ASCII proof": {**valid, "proof": "é" * 64},
        "a non-ASCII proof of another length": {**valid, "proof": "é"},
        "a 400-digit timestamp": {**valid, "timestamp": int("9" * 400)},
        "a text timestamp": {**valid, "timestamp": str(valid["timestamp"])},
        "a proof that is a number": {**valid, "proof": 7},
        "an unsigned extra field": {**valid, "extra_field": "x"},
        "a JSON list": [valid],
        "a JSON string": "x",
        "JSON null": None,
        "bytes that are not UTF-8": b"\xff\xfe\xfd",
        "nested too deep": b"[" * 2000 + b"]" * 2000,
        "too large": json.dumps({**valid, "conn_id": "x" * 200_000}).encode(),
    }


@pytest.mark.parametrize("route", ["audit", "renew"])
def test_malformed_requests_to_task_routes_get_a_clean_422(
    api_server: ApiServer, make_connection: Any, route: str
) -> None:
    conn_id = make_connection(f"sf360_malformed_{route}")
    valid = _prove(_entry(conn_id)) if route == "audit" else dict(proven_request(
        "some-refresh-token", purpose=RENEW_PURPOSE, timestamp=int(time.time()), fields={
            "conn_id": conn_id, "state_key": "sf360_token__00D000000000000AAA__005000000000000AAA__0123456789ab",
            "generation": 1, "refused": False}))
    for case, body in _malformed_bodies(valid).items():
        answer = _post(api_server, route, body)
        assert answer.status_code == 422, (case, answer.status_code, answer.text[:300])
        assert answer.text.isascii() and len(answer.text) < 200, case  # one fixed body, nothing echoed


def test_the_api_server_gives_one_answer_to_every_unproven_renewal(
    api_server: ApiServer, make_connection: Any, postgres_connection: str
) -> None:
    """The review's probes: an unknown connection, a Postgres connection, a guessed state key, a wrong proof."""
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    conn_id = make_connection("sf360_renew_probe", org_id="not-an-org-id")
    real_key = SF360Hook(make_connection("sf360_renew_probe_ok")).credentials.state_key

    def probe(name: str, state_key: str) -> requests.Response:
        fields = {"conn_id": name, "state_key": state_key, "generation": 1, "refused": True}
        return _post(api_server, "renew", dict(proven_request(
            "guessed-refresh-token", purpose=RENEW_PURPOSE, fields=fields, timestamp=int(time.time()))))

    answers = [probe("no_such_connection", real_key), probe(postgres_connection, real_key), probe(conn_id, real_key),
               probe("sf360_renew_probe_ok", real_key), probe("sf360_renew_probe_ok", real_key[:-1] + "0")]
    assert {(a.status_code, a.text) for a in answers} == {(403, json.dumps(RENEW_REFUSED, separators=(",", ":")))}
