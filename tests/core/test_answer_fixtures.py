"""The provider's reading of Salesforce's documented answers (``tests/fixtures/salesforce_answers``, each with its
source): every documented token answer is accepted as it is, and every documented error means what the fixture
says for the stored credential."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.core import errors
from airflow_provider_sf360.core.answers import token_answer_problem, token_response
from airflow_provider_sf360.core.grants import Grant
from airflow_provider_sf360.core.oauth_errors import error_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce_answers"
GRANTS = {grant.value: grant for grant in Grant}


def _token_cases() -> list[tuple[str, Grant, dict[str, Any]]]:
    cases = []
    for path in sorted(FIXTURES.glob("token_*.json")):
        document = json.loads(path.read_text())
        for case in document["cases"]:
            if case["status"] == 200 and "example" in case:
                cases.append((f"{path.stem}:{case['name']}", GRANTS[document["grant"]], case["example"]))
    return cases


@pytest.mark.parametrize(("name", "grant", "answer"), _token_cases(), ids=[c[0] for c in _token_cases()])
def test_every_documented_token_answer_is_accepted(name: str, grant: Grant, answer: dict[str, Any]) -> None:
    now = time.time()
    assert token_answer_problem(answer, now) is None, name
    token = token_response(answer, grant, consumer_secret=None, received_at=now)
    assert token.access_token == answer["access_token"] and token.identity_url == answer["id"]
    if "issued_at" not in answer:  # the JWT bearer answer: the receipt time stands for it
        assert token.issued_at == now
    if grant in (Grant.JWT_BEARER, Grant.CLIENT_CREDENTIALS):
        assert token.refresh_token is None


def test_the_jwt_answer_has_neither_issued_at_nor_signature() -> None:
    document = json.loads((FIXTURES / "token_jwt_bearer.json").read_text())
    keys = set(document["cases"][0]["keys"])
    assert "issued_at" not in keys and "signature" not in keys


def _token_errors() -> list[dict[str, Any]]:
    entries = json.loads((FIXTURES / "errors.json").read_text())["errors"]
    return [e for e in entries if e["endpoint"] == "token" and e["delivery"] == "json" and e["status"] == 400
            and e["error"] and e["grants"]]


@pytest.mark.parametrize("entry", _token_errors(), ids=lambda e: f"{e['error']}:{e['error_description']}")
def test_every_documented_error_means_what_its_source_says(entry: dict[str, Any]) -> None:
    """Only a 'dead' answer to a refresh grant drops a token; 'admin' and 'client' keep it; nothing is guessed."""
    for grant_name in entry["grants"]:
        if grant_name not in GRANTS:
            continue  # the password grant is not used by the provider
        grant = GRANTS[grant_name]
        secret_sent = not (entry["meaning"] == "admin" and entry["error"] == "invalid_client")
        raised = error_for(entry["error"], entry["error_description"] or "", grant, secret_sent=secret_sent)
        revoked = isinstance(raised, errors.TokenRevokedError)
        dead = entry["meaning"] == "dead" or (entry["error"] == "invalid_client_id" and grant is Grant.REFRESH_TOKEN)
        # An unknown consumer key answering a *refresh* means the app was deleted or its key regenerated: the key
        # was valid when the token was issued (a connection whose key is edited no longer uses that token).
        assert revoked == (dead and grant is Grant.REFRESH_TOKEN), (grant, raised)
        assert isinstance(raised, errors.SalesforceUnreachableError) == (entry["meaning"] == "transient"), raised
