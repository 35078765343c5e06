"""Malformed token answers through the hook (real metadata DB): the user gets the provider's error, and no
token state is stored. A fake Salesforce on 127.0.0.1 (allowed in the test session) serves the answers."""

# ruff: noqa: F811  (the tls fixtures are imported from fake_servers and requested by name)
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.testing.certs import CertBundle

from .fake_servers import Answer, RecordingServer, recording_server, tls, trusted_tls  # noqa: F401
from .secrets_kit import ORG18, USER18, Secrets, signed_token_answer

pytestmark = pytest.mark.timeout(120)

CASES: dict[str, Callable[[str, Secrets], Answer]] = {
    "access_token null": lambda base, keys: Answer.json(signed_token_answer(base, keys, access_token=None)),
    "numeric id": lambda base, keys: Answer.json(signed_token_answer(base, keys, id=7)),
    "huge issued_at": lambda base, keys: Answer.json(signed_token_answer(base, keys, issued_at="9" * 300)),
    "a list": lambda base, keys: Answer.json([signed_token_answer(base, keys)]),
    "redirect": lambda base, keys: Answer.redirect("http://127.0.0.1:9/steal", 307),
    "wrong signature": lambda base, keys: Answer.json(signed_token_answer(base, keys, signature="AAAA")),
}
# Documented shapes the provider accepts: a missing signature (it is checked when sent), a field it never reads.
TOLERATED: dict[str, Callable[[str, Secrets], Answer]] = {
    "no signature": lambda base, keys: Answer.json(
        {k: v for k, v in signed_token_answer(base, keys).items() if k != "signature"}),
    "expires_in word": lambda base, keys: Answer.json(signed_token_answer(base, keys, expires_in="soon")),
}


@pytest.fixture
def box() -> dict[str, Answer]:
    return {}


@pytest.fixture
def salesforce(trusted_tls: CertBundle, box: dict[str, Answer]) -> Iterator[RecordingServer]:
    with recording_server(lambda _m, _p: box["answer"], tls=trusted_tls) as server:
        yield server


@pytest.fixture
def connection(airflow_db: Path, salesforce: RecordingServer) -> Iterator[tuple[str, Secrets]]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from tests.helpers.lifecycle import delete_sf360_variables

    delete_sf360_variables()
    conn_id, keys = "sf360_security_malformed", Secrets.new()
    extra = {"org_id": ORG18, "user_id": USER18, "auth_flow": "client_credentials", "login_url": salesforce.base_url}
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
        session.add(Connection(conn_id=conn_id, conn_type="sf360", login="3MVGconsumerkey",
                               password=keys.consumer_secret, extra=json.dumps(extra)))
    yield conn_id, keys
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
    delete_sf360_variables()


def _token_variables() -> list[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [str(k) for k in session.scalars(select(Variable.key).where(Variable.key.like("sf360_token__%")))]


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_answer_stores_nothing(
    case: str, connection: tuple[str, Secrets], salesforce: RecordingServer, box: dict[str, Answer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.service.actions import SF360Actions
    from airflow_provider_sf360.service.audit import AirflowAuditLog

    conn_id, keys = connection
    box["answer"] = CASES[case](salesforce.base_url, keys)
    before = _token_variables()
    hook = SF360Hook(conn_id, auto_setup=False)
    actions = SF360Actions(conn_id, audit=AirflowAuditLog.for_user("security-test", "cli"), hook=hook)
    outcome: Any
    try:
        outcome = actions.setup()
    except SF360Error as error:  # the provider's own error type is fine; anything else fails the test
        outcome = error
    if not isinstance(outcome, SF360Error):
        assert outcome.ok is False, outcome
        message = outcome.message
    else:
        message = str(outcome)
    assert _token_variables() == before  # nothing stored
    assert hook.status()["status"] == "not_set_up"
    assert not keys.leaked_in((message + capsys.readouterr().out).encode())



@pytest.mark.parametrize("case", list(TOLERATED))
def test_tolerated_answer_is_stored(
    case: str, connection: tuple[str, Secrets], salesforce: RecordingServer, box: dict[str, Answer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.service.actions import SF360Actions
    from airflow_provider_sf360.service.audit import AirflowAuditLog

    conn_id, keys = connection
    box["answer"] = TOLERATED[case](salesforce.base_url, keys)
    assert _token_variables() == []
    hook = SF360Hook(conn_id, auto_setup=False)
    result = SF360Actions(conn_id, audit=AirflowAuditLog.for_user("security-test", "cli"), hook=hook).setup()
    assert result.ok and result.status == "active", result
    assert _token_variables() == [f"sf360_token__{conn_id}"]
    stored = hook.lifecycle.store.load()
    assert stored is not None and stored.access_token == keys.access_token
    assert stored.set_up_by == "security-test"
    assert not keys.leaked_in((result.message + str(result.details) + capsys.readouterr().out).encode())
