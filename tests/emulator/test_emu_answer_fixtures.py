"""The emulator's live answers have exactly the documented shapes of tests/fixtures/salesforce_answers/."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SECOND_USERNAME,
    DEFAULT_USER_ID,
    DEFAULT_USERNAME,
    SalesforceEmulator,
)

from .sf360_emu_helpers import CALLBACK, post_token, query_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce_answers"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MEANINGS = {"dead", "admin", "transient", "client"}


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _case(fixture: str, name: str) -> dict[str, Any]:
    return next(c for c in _fixture(fixture)["cases"] if c["name"] == name)


def _assert_shape(body: dict[str, Any], case: dict[str, Any]) -> None:
    assert list(body) == case["keys"]
    for key, nested in case.get("nested_keys", {}).items():
        assert list(body[key]) == nested, key
    assert not set(case.get("not_emulated_keys", {})) & set(body)


# ---------------------------------------------------------------- helpers that make the emulator answer
def _token(emu: SalesforceEmulator, **fields: str) -> requests.Response:
    return post_token(emu.login_url + "/services/oauth2/token", **fields)


def _code(emu: SalesforceEmulator, scope: str = "api refresh_token id", pkce: bool = True) -> tuple[str, str]:
    """An authorization code and its PKCE verifier ("" without PKCE)."""
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, scope=scope, pkce="S256" if pkce else None)
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    return query_of(emu.authorize_headless(url))["code"], getattr(oauth, "_code_verifier", "")


def _redeem(emu: SalesforceEmulator, code: str, verifier: str, **extra: str) -> requests.Response:
    fields = {"grant_type": "authorization_code", "code": code, "client_id": DEFAULT_CONSUMER_KEY,
              "client_secret": DEFAULT_CONSUMER_SECRET, "redirect_uri": CALLBACK, "code_verifier": verifier, **extra}
    return _token(emu, **fields)


def _refresh(emu: SalesforceEmulator, refresh_token: str, **extra: str) -> requests.Response:
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": DEFAULT_CONSUMER_KEY,
              "client_secret": DEFAULT_CONSUMER_SECRET, **extra}
    return _token(emu, **fields)


def _refresh_token(emu: SalesforceEmulator, scope: str = "api refresh_token id") -> str:
    return str(_redeem(emu, *_code(emu, scope)).json()["refresh_token"])


def _jwt(emu: SalesforceEmulator, **claims: Any) -> requests.Response:
    payload = {"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_USERNAME, "aud": "https://login.salesforce.com",
               "exp": int(time.time()) + 180, **claims}
    return _token(emu, grant_type=JWT_GRANT, assertion=jwt.encode(payload, emu.jwt_private_key_pem, algorithm="RS256"))


def _client_credentials(emu: SalesforceEmulator, host: str | None = None, **extra: str) -> requests.Response:
    fields = {"grant_type": "client_credentials", "client_id": DEFAULT_CONSUMER_KEY,
              "client_secret": DEFAULT_CONSUMER_SECRET, **extra}
    return post_token((host or emu.my_domain_url(DEFAULT_ORG_ID)) + "/services/oauth2/token", **fields)


def _access_token(emu: SalesforceEmulator) -> str:
    return str(_client_credentials(emu).json()["access_token"])


# ---------------------------------------------------------------- success shapes
@pytest.mark.parametrize(("case", "scope"), [("refresh and openid scopes", "api refresh_token openid"),
                                             ("neither refresh nor openid scope", "api id")])
def test_authorization_code_answer(emu, case, scope) -> None:
    r = _redeem(emu, *_code(emu, scope))
    expected = _case("token_authorization_code.json", case)
    assert r.status_code == expected["status"]
    _assert_shape(r.json(), expected)


@pytest.mark.parametrize(("case", "rotation"), [("without rotation", False), ("with rotation", True)])
def test_refresh_answer(emu, case, rotation) -> None:
    refresh_token = _refresh_token(emu, "api refresh_token openid")
    emu.set_app(DEFAULT_CONSUMER_KEY, rotation=rotation)
    _assert_shape(_refresh(emu, refresh_token).json(), _case("token_refresh_token.json", case))


def test_jwt_bearer_answer(emu) -> None:
    _assert_shape(_jwt(emu).json(), _case("token_jwt_bearer.json", "approved user"))


def test_client_credentials_answer(emu) -> None:
    _assert_shape(_client_credentials(emu).json(), _case("token_client_credentials.json", "run-as user configured"))


def test_revoke_answers(emu) -> None:
    ok = requests.post(emu.login_url + "/services/oauth2/revoke", data={"token": _access_token(emu)}, timeout=10)
    assert (ok.status_code, ok.text) == (200, _case("revoke.json", "revoked")["body"])
    for name, data in (("invalid token", {"token": "nothing"}), ("unsupported token type", {})):
        expected = _case("revoke.json", name)
        r = requests.post(emu.login_url + "/services/oauth2/revoke", data=data, timeout=10)
        assert r.status_code == expected["status"] and r.json() == expected["example"]


@pytest.mark.parametrize("case", ["active access token", "inactive"])
def test_introspection_answers(emu, case) -> None:
    token = _access_token(emu) if case == "active access token" else "nothing"
    r = requests.post(emu.login_url + "/services/oauth2/introspect", timeout=10,
                      data={"token": token, "token_type_hint": "access_token"},
                      auth=(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET))
    _assert_shape(r.json(), _case("introspect.json", case))


def test_userinfo_answer(emu) -> None:
    r = requests.get(emu.my_domain_url(DEFAULT_ORG_ID) + "/services/oauth2/userinfo", timeout=10,
                     headers={"Authorization": "Bearer " + _access_token(emu)})
    _assert_shape(r.json(), _case("userinfo.json", "live token"))


def test_identity_answer(emu) -> None:
    body = _client_credentials(emu).json()
    r = requests.get(body["id"], headers={"Authorization": "Bearer " + body["access_token"]}, timeout=10)
    _assert_shape(r.json(), _case("identity.json", "live token"))


# ---------------------------------------------------------------- errors
def _errors() -> list[dict[str, Any]]:
    return list(_fixture("errors.json")["errors"])


def test_errors_fixture_is_well_formed() -> None:
    doc = _fixture("errors.json")
    for entry in doc["errors"]:
        assert entry["meaning"] in MEANINGS, entry
        assert entry["sources"] and set(entry["sources"]) <= set(doc["sources"]), entry
        assert entry["endpoint"] in ("token", "authorize") and entry["cause"]
        assert entry["delivery"] in ("json", "redirect", "error_page", "html")

def test_answer_fixtures_are_well_formed() -> None:
    for path in FIXTURES.glob("*.json"):
        if path.name == "errors.json":
            continue
        data = json.loads(path.read_text())
        assert data["sources"] and all(source["title"] for source in data["sources"]), path.name
        for case in data["cases"]:
            assert {"name", "when", "status", "keys"} <= set(case), (path.name, case.get("name"))
            assert "example" not in case or list(case["example"]) == case["keys"], (path.name, case["name"])


def _answer(r: requests.Response) -> tuple[str, int, str | None, str | None]:
    if r.headers.get("Content-Type", "").startswith("text/html"):
        return "html", r.status_code, None, None
    body = r.json()
    return "json", r.status_code, body["error"], body["error_description"]


def _token_error_scenarios(emu: SalesforceEmulator) -> list[Callable[[], requests.Response]]:
    """One request per emulated token-endpoint error answer."""

    def restricted_jwt() -> requests.Response:
        emu.restrict_login(DEFAULT_USER_ID, "login_hours")
        return _jwt(emu)

    def outside_allowlist() -> requests.Response:
        refresh_token = _refresh_token(emu)
        emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_ip_allowlist=["203.0.113.0/24"])
        return _refresh(emu, refresh_token)

    def deactivated() -> requests.Response:
        refresh_token = _refresh_token(emu)
        emu.deactivate_user(DEFAULT_USER_ID)
        return _refresh(emu, refresh_token)

    def unexpected_verifier() -> requests.Response:
        emu.set_app(DEFAULT_CONSUMER_KEY, pkce_required=False)
        return _redeem(emu, _code(emu, pkce=False)[0], "x" * 43)

    def fault(kind: str) -> Callable[[], requests.Response]:
        return lambda: (emu.inject_fault("token", kind), _client_credentials(emu))[1]

    def no_run_as_user() -> requests.Response:
        emu.set_app(DEFAULT_CONSUMER_KEY, run_as_username="")
        return _client_credentials(emu)

    return [
        lambda: _refresh(emu, "5Aep861nothing"),
        deactivated,
        lambda: _jwt(emu, sub=DEFAULT_SECOND_USERNAME),
        lambda: _jwt(emu, aud=emu.login_url),
        lambda: _jwt(emu, exp=int(time.time()) - 10),
        lambda: _token(emu, grant_type=JWT_GRANT, assertion="not-a-jwt"),
        restricted_jwt,
        outside_allowlist,
        lambda: _redeem(emu, "aPrxnothing", "x" * 43),
        lambda: _redeem(emu, _code(emu)[0], ""),
        lambda: _redeem(emu, _code(emu)[0], "x" * 43),
        unexpected_verifier,
        lambda: _client_credentials(emu, client_secret="wrong"),
        lambda: _client_credentials(emu, client_id="nobody"),
        lambda: _token(emu, grant_type="pasword"),
        lambda: _refresh(emu, _refresh_token(emu), scope="api"),
        lambda: _token(emu, grant_type="authorization_code", client_id=DEFAULT_CONSUMER_KEY,
                       client_secret=DEFAULT_CONSUMER_SECRET),
        lambda: _token(emu, grant_type="refresh_token", client_id=DEFAULT_CONSUMER_KEY,
                       client_secret=DEFAULT_CONSUMER_SECRET),
        lambda: requests.get(emu.login_url + "/services/oauth2/token", timeout=10),
        lambda: _redeem(emu, *_code(emu), redirect_uri="http://localhost:1717/OauthRedirect"),
        lambda: _client_credentials(emu, host=emu.login_url),
        no_run_as_user,
        fault("429"), fault("500"), fault("503"), fault("html_error"),
    ]


def test_every_emulated_token_error_is_documented_and_seen(emu) -> None:
    documented = {(e["delivery"], e["status"], e["error"], e["error_description"])
                  for e in _errors() if e["endpoint"] == "token" and e["emulated"]}
    seen = set()
    for scenario in _token_error_scenarios(emu):
        emu.reset()
        answer = _answer(scenario())
        assert answer in documented, answer
        seen.add(answer)
    assert seen == documented


def _authorize(emu: SalesforceEmulator, **params: str) -> requests.Response:
    query = {"response_type": "code", "client_id": DEFAULT_CONSUMER_KEY, "redirect_uri": CALLBACK,
             "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
             **params}
    return requests.get(emu.login_url + "/services/oauth2/authorize", timeout=10, allow_redirects=False,
                        params={k: v for k, v in query.items() if v})


def _authorize_answer(r: requests.Response) -> tuple[str, int | None, str, str]:
    if r.status_code == 302:
        q = query_of(r.headers["Location"])
        return "redirect", 302, q["error"], q["error_description"]
    error = r.text.split("error=")[1].split("<")[0]
    description = next(e["error_description"] for e in _errors() if e["error"] == error)
    assert description in r.text
    return "error_page", None, error, description


def test_every_emulated_authorize_error_is_documented_and_seen(emu) -> None:
    documented = {(e["delivery"], e["status"], e["error"], e["error_description"])
                  for e in _errors() if e["endpoint"] == "authorize" and e["emulated"]}
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    answers = [
        _authorize_answer(_authorize(emu, client_id="nobody")),
        _authorize_answer(_authorize(emu, redirect_uri="")),
        _authorize_answer(_authorize(emu, redirect_uri="https://evil.example/cb")),
        _authorize_answer(_authorize(emu, scope="api full")),
        _authorize_answer(_authorize(emu, response_type="token")),
        _authorize_answer(_authorize(emu, code_challenge="")),
        _authorize_answer(_authorize(emu, code_challenge_method="plain")),
    ]
    denied = query_of(emu.authorize_headless(url, allow=False))
    answers.append(("redirect", 302, denied["error"], denied["error_description"]))
    emu.restrict_login(DEFAULT_USER_ID, "login_ip_ranges")
    restricted = query_of(emu.authorize_headless(url))
    answers.append(("redirect", 302, restricted["error"], restricted["error_description"]))
    assert set(answers) == documented
