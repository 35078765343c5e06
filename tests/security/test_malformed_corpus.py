"""Malformed-input corpus: hostile connection fields and malformed Salesforce token answers.

Each case must end in the provider's own error (a subclass of ``SF360Error``), never a raw TypeError, KeyError
or ValueError, name what is wrong, echo no secret, and leave nothing behind (no token comes out of the client,
and ``null`` is never turned into the string "None").
"""

# ruff: noqa: F811  (the tls fixtures are imported from fake_servers and requested by name)
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from airflow_provider_sf360.core.credentials import AuthFlow, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import CredentialsInvalidError, SalesforceRequestError, SF360Error
from airflow_provider_sf360.core.grants import client_credentials_grant
from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient
from airflow_provider_sf360.core.renewal import TokenMinter
from airflow_provider_sf360.core.token_state import TokenResponse
from airflow_provider_sf360.testing.certs import CertBundle
from tests.helpers.pem import BEGIN_KEY

from .fake_servers import Answer, RecordingServer, recording_server, tls, trusted_tls  # noqa: F401
from .secrets_kit import ORG18, SETTINGS, USER18, Secrets, client, credentials, signed_token_answer

pytestmark = pytest.mark.timeout(120)

SECRET = "CSdo-not-echo-this-secret"
EC_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)
VALID = {"org_id": ORG18, "user_id": USER18, "auth_flow": "authorization_code"}

# (extra overrides, login, password, label the error must name)
HOSTILE_FIELDS: list[tuple[dict[str, Any], Any, Any, str]] = [
    ({"org_id": None}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": ""}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": 12345}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": [ORG18]}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": {"$ne": ""}}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": ORG18[:15] + "\x00"}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": "\uff10\uff10D5e000000AbCd"}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": "00D5e000000AbCdAAA"}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": "00D5e000000AbCdEAA"}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": "00D5e 000000AbCd"}, "key", SECRET, "Salesforce Org ID"),
    ({"org_id": "x" * 10_000}, "key", SECRET, "Salesforce Org ID"),
    ({"user_id": ORG18}, "key", SECRET, "Salesforce User ID"),
    ({"user_id": "005"}, "key", SECRET, "Salesforce User ID"),
    ({"is_sandbox": "maybe"}, "key", SECRET, "Use salesforce.com Sandbox"),
    ({"is_sandbox": ["true"]}, "key", SECRET, "Use salesforce.com Sandbox"),
    ({"auth_flow": "implicit"}, "key", SECRET, "OAuth flow"),
    ({"auth_flow": 7}, "key", SECRET, "OAuth flow"),
    ({}, None, SECRET, "Consumer Key"),
    ({}, "   ", SECRET, "Consumer Key"),
    ({}, "k" * 5000, SECRET, "Consumer Key"),
    ({"auth_flow": "client_credentials", "login_url": "https://acme.my.salesforce.com"}, "key", "p" * 5000,
     "Consumer Secret"),
    ({"login_url": "javascript:alert(1)"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://127.0.0.1:1\\@acme.my.salesforce.com"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://acme.my.salesforce.com.evil.test"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://evil.test/acme.my.salesforce.com"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://acme.my.salesforce.com?next=evil"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://[::1"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://acme.my.salesforce.com:99999"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://acme.my.salesforce.com\n.evil.test"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://acme.my.salesforce.com\u3002evil.test"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://user:pw@acme.my.salesforce.com"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://test.salesforce.com"}, "key", SECRET, "Login URL (My Domain)"),
    ({"login_url": "https://" + "a" * 3000 + ".salesforce.com"}, "key", SECRET, "Login URL (My Domain)"),
    ({"callback_url": "http://evil.test/cb"}, "key", SECRET, "Callback URL"),
    ({"callback_url": "http://localhost\\@evil.test:1717/cb"}, "key", SECRET, "Callback URL"),
    ({"callback_url": "http://user@localhost:1717/cb"}, "key", SECRET, "Callback URL"),
    ({"api_version": "64"}, "key", SECRET, "API Version"),
    ({"api_version": "v64.0; DROP TABLE"}, "key", SECRET, "API Version"),
    ({"auth_flow": "jwt_bearer", "username": "u@x", "private_key": "not a key"}, "key", SECRET, "Private Key (PEM)"),
    ({"auth_flow": "jwt_bearer", "username": "u@x", "private_key": EC_PEM}, "key", SECRET, "Private Key (PEM)"),
    ({"auth_flow": "jwt_bearer", "username": "u@x", "private_key": BEGIN_KEY * 40_000}, "key",
     SECRET, "Private Key (PEM)"),
    ({"auth_flow": "jwt_bearer", "private_key": EC_PEM}, "key", SECRET, "Salesforce Username"),
    ({"auth_flow": "refresh_token"}, "key", SECRET, "Refresh Token"),
    ({"auth_flow": "refresh_token", "refresh_token": "5Aep" * 5000}, "key", SECRET, "Refresh Token"),
]


def test_corpus_sizes() -> None:
    assert len(HOSTILE_FIELDS) >= 30
    assert len(MALFORMED_ANSWERS) >= 20


@pytest.mark.parametrize(("overrides", "login", "password", "label"), HOSTILE_FIELDS)
def test_hostile_connection_fields(overrides: dict[str, Any], login: Any, password: Any, label: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SF360Error) as err:
        credentials_from_connection_fields("sf360_hostile", {**VALID, **overrides}, login, password, SETTINGS)
    assert time.perf_counter() - started < 0.5
    assert isinstance(err.value, CredentialsInvalidError)
    message = str(err.value)
    assert "sf360_hostile" in message and f"  - {label}" in message, message
    assert SECRET not in message


def test_extra_that_is_not_an_object() -> None:
    with pytest.raises(CredentialsInvalidError) as err:
        credentials_from_connection_fields("sf360_hostile", ["org_id"], "key", None, SETTINGS)  # type: ignore[arg-type]
    assert "not an object" in str(err.value)


def _answers(base: str, keys: Secrets) -> dict[str, Answer]:
    good = signed_token_answer(base, keys)

    def edited(**changes: Any) -> Answer:
        return Answer.json(signed_token_answer(base, keys, **changes))

    without = {name: Answer.json({k: v for k, v in good.items() if k != name}) for name in ("id", "issued_at")}
    return {
        "numeric id": edited(id=12345),
        "missing id": without["id"],
        "missing issued_at": without["issued_at"],
        "huge issued_at (string)": edited(issued_at="9" * 400),
        "huge issued_at (number)": Answer.raw_json(json.dumps(good)[:-1] + ', "issued_at": 1' + "0" * 300 + "}"),
        "issued_at in the far future": edited(issued_at=str(int((time.time() + 10**9) * 1000))),
        "issued_at negative": edited(issued_at="-1"),
        "issued_at true": edited(issued_at=True),
        "access_token null": edited(access_token=None),
        "access_token number": edited(access_token=42),
        "access_token empty": edited(access_token=""),
        "access_token 20 KB": edited(access_token="A" * 20_000),
        "instance_url list": edited(instance_url=[base]),
        "refresh_token object": edited(refresh_token={"value": "x"}),
        "scope number": edited(scope=5),
        "signature wrong": edited(signature="AAAA"),
        "signature not ASCII": edited(signature="\u00e9\u00e9\u00e9="),
        "list instead of object": Answer.json([good]),
        "string body": Answer.json("access_token"),
        "null body": Answer.raw_json("null"),
        "number body": Answer.raw_json("42"),
        "1 MB body": Answer.json({**good, "padding": "x" * 1_000_000}),
        "deeply nested": Answer.raw_json("[" * 100_000 + "]" * 100_000),
        "not JSON": Answer(200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"),
        "truncated JSON": Answer.raw_json(b'{"access_token": "00D'),
        "error object": Answer.json({"error": {"nested": True}, "error_description": ["x"]}, status=400),
        "error with huge description": Answer.json({"error": "invalid_grant", "error_description": "d" * 100_000},
                                                   status=400),
    }


MALFORMED_ANSWERS = list(_answers("https://127.0.0.1:1", Secrets.new()))


def _tolerated_answers(base: str, keys: Secrets) -> dict[str, Answer]:
    """Answers the provider accepts on purpose: documented shapes (the JWT bearer answer has no ``signature`` and
    no ``issued_at``) and fields it never reads (Salesforce sends no ``expires_in``)."""
    good = signed_token_answer(base, keys)

    def edited(**changes: Any) -> Answer:
        return Answer.json(signed_token_answer(base, keys, **changes))

    unsigned = {k: v for k, v in good.items() if k != "signature"}
    return {
        "signature missing": Answer.json(unsigned),
        "signature null": edited(signature=None),
        "signature and issued_at missing": Answer.json({k: v for k, v in unsigned.items() if k != "issued_at"}),
        "expires_in word": edited(expires_in="soon"),
        "expires_in fraction": edited(expires_in=1.5),
        "expires_in 50 digits": edited(expires_in="9" * 50),
    }


TOLERATED_ANSWERS = list(_tolerated_answers("https://127.0.0.1:1", Secrets.new()))

def _minter(oauth: SalesforceOAuthClient) -> TokenMinter:
    """The renewal logic, which resolves an unreadable answer to a consuming grant (a code, a refresh token)."""
    return TokenMinter(oauth.credentials, oauth, session_timeout=7200)


GRANTS: dict[str, Callable[[SalesforceOAuthClient, Secrets], object]] = {
    "client credentials": lambda c, k: c.request_token(client_credentials_grant(c.credentials)),
    "refresh token (via renewal)": lambda c, k: _minter(c).redeem_refresh_token(k.refresh_token),
    "code exchange (via the minter)": lambda c, k: _minter(c).exchange_code(k.code, k.verifier,
                                                                             "http://localhost:1717/cb"),
}


@pytest.fixture(scope="module")
def answer_box() -> dict[str, Answer]:
    return {}


@pytest.fixture
def salesforce(trusted_tls: CertBundle, answer_box: dict[str, Answer]) -> Iterator[RecordingServer]:
    with recording_server(lambda _m, _p: answer_box["now"], tls=trusted_tls) as server:
        yield server


@pytest.mark.parametrize("case", MALFORMED_ANSWERS)
@pytest.mark.parametrize("grant", list(GRANTS))
def test_malformed_token_answers(
    case: str, grant: str, salesforce: RecordingServer, answer_box: dict[str, Answer],
    trusted_tls: CertBundle,
) -> None:
    keys = Secrets.new()
    answer_box["now"] = _answers(salesforce.base_url, keys)[case]
    masked: list[str] = []
    oauth = client(credentials(salesforce.base_url, keys, AuthFlow.CLIENT_CREDENTIALS), trusted_tls, masked)
    result: object = None
    with pytest.raises(SF360Error) as err:
        result = GRANTS[grant](oauth, keys)
    assert result is None  # nothing came out of the client to be stored
    assert "None" not in masked and all(isinstance(m, str) and m for m in masked)
    message = str(err.value)
    assert not keys.leaked_in(message.encode()), message
    assert len(message) < 2000
    if grant.startswith("client") and case.startswith(
        ("signature", "access_token", "issued_at", "numeric id", "missing", "expires_in")
    ):
        assert isinstance(err.value, SalesforceRequestError), message
        assert "malformed" in message or "signature" in message, message


@pytest.mark.parametrize("case", TOLERATED_ANSWERS)
@pytest.mark.parametrize("grant", list(GRANTS))
def test_tolerated_token_answers_give_the_token(
    case: str, grant: str, salesforce: RecordingServer, answer_box: dict[str, Answer], trusted_tls: CertBundle,
) -> None:
    """A missing signature is accepted (a wrong one is refused, above); a missing issued_at is the receive time."""
    keys = Secrets.new()
    answer_box["now"] = _tolerated_answers(salesforce.base_url, keys)[case]
    masked: list[str] = []
    oauth = client(credentials(salesforce.base_url, keys, AuthFlow.CLIENT_CREDENTIALS), trusted_tls, masked)
    before = time.time()
    token = GRANTS[grant](oauth, keys)
    assert isinstance(token, TokenResponse)
    assert token.access_token == keys.access_token and keys.access_token in masked
    assert token.org_and_user == (ORG18, USER18)
    assert before - 3600 <= token.issued_at <= time.time() + 1
    assert "None" not in masked


def test_a_good_answer_still_works(salesforce: RecordingServer, answer_box: dict[str, Answer],
                                   trusted_tls: CertBundle) -> None:
    keys = Secrets.new()
    answer_box["now"] = Answer.json(signed_token_answer(salesforce.base_url, keys, refresh_token=None))
    oauth = client(credentials(salesforce.base_url, keys), trusted_tls)
    token = oauth.request_token(client_credentials_grant(oauth.credentials))
    assert token.access_token == keys.access_token and token.refresh_token is None and token.scope
    assert token.org_and_user == (ORG18, USER18)
