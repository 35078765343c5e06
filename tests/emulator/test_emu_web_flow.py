"""Web server flow with PKCE (salesforce.md sections 2.1, 3, 5) driven by requests-oauthlib."""

from __future__ import annotations

import re

import pytest
import requests
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.core.answers import signature_is_valid
from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX_ORG_ID,
    DEFAULT_SANDBOX_USERNAME,
    DEFAULT_USER_ID,
    EmulatorBrowserError,
)
from airflow_provider_sf360.testing.client_auth import s256

from .sf360_emu_helpers import CALLBACK, post_token, query_of

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_rfc7636_vector() -> None:
    assert s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_token_response_shape(emu, web_login) -> None:
    tok = web_login()
    assert "expires_in" not in tok
    assert set(tok) >= {"access_token", "refresh_token", "signature", "scope", "instance_url", "id",
                        "token_type", "issued_at"}
    assert re.fullmatch(r"\d{13}", tok["issued_at"])
    assert tok["access_token"].startswith(DEFAULT_ORG_ID[:15] + "!AQ")
    assert tok["refresh_token"].startswith("5Aep861")
    assert tok["token_type"] == "Bearer"
    assert tok["instance_url"] == emu.my_domain_url(DEFAULT_ORG_ID)
    assert tok["id"] == f"{emu.login_url}/id/{DEFAULT_ORG_ID}/{DEFAULT_USER_ID}"
    assert signature_is_valid(tok, DEFAULT_CONSUMER_SECRET)


def test_raw_response_has_no_expires_in(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    code = query_of(emu.authorize_headless(url))["code"]
    r = post_token(emu.login_url + "/services/oauth2/token", grant_type="authorization_code", code=code,
                   client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET, redirect_uri=CALLBACK,
                   code_verifier=oauth._code_verifier)
    assert r.status_code == 200
    assert "expires_in" not in r.json()
    assert isinstance(r.json()["issued_at"], str)


def test_no_refresh_token_without_scope(web_login) -> None:
    tok = web_login(scope="api id")
    assert "refresh_token" not in tok


@pytest.mark.parametrize(
    ("scope", "keys"),
    [("api id", ["access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"]),
     ("api refresh_token openid", ["access_token", "refresh_token", "signature", "scope", "id_token",
                                   "instance_url", "id", "token_type", "issued_at"])],
)
def test_code_answer_has_exactly_the_documented_keys(emu, scope, keys) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, scope=scope, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    code = query_of(emu.authorize_headless(url))["code"]
    r = post_token(emu.login_url + "/services/oauth2/token", grant_type="authorization_code", code=code,
                   client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET, redirect_uri=CALLBACK,
                   code_verifier=oauth._code_verifier)
    assert list(r.json()) == keys  # salesforce.md section 2.1


def test_openid_scope_gives_id_token(emu, web_login) -> None:
    import jwt

    tok = web_login(scope="api openid")
    keys = requests.get(emu.login_url + "/id/keys", timeout=10).json()["keys"]
    key = jwt.algorithms.RSAAlgorithm.from_jwk(keys[0])
    claims = jwt.decode(tok["id_token"], key, algorithms=["RS256"], audience=DEFAULT_CONSUMER_KEY)
    assert claims["sub"].endswith(DEFAULT_USER_ID)


def test_html_pages_and_deny(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, state = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and 'name="username"' in page.text and "<form" in page.text
    redirect = emu.authorize_headless(url, allow=False)
    assert redirect.startswith(CALLBACK)
    assert query_of(redirect) == {"error": "access_denied", "error_description": "end-user denied authorization",
                                  "state": state}


def test_consent_page_has_allow_and_deny(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    form = {**query_of(url), "sf360_step": "login", "username": "integration@acme.example"}
    page = requests.post(emu.login_url + "/services/oauth2/authorize", data=form, timeout=10)
    assert 'value="allow"' in page.text and 'value="deny"' in page.text


def test_auto_approve(emu) -> None:
    emu.set_auto_approve(True)
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, state = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and query_of(r.headers["Location"])["state"] == state


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "error"),
    [("unknown-client", CALLBACK, "invalid_client_id"),
     (DEFAULT_CONSUMER_KEY, "https://evil.example/cb", "redirect_uri_mismatch")],
)
def test_authorize_bad_client_or_callback_is_an_error_page(emu, client_id, redirect_uri, error) -> None:
    oauth = OAuth2Session(client_id, redirect_uri=redirect_uri, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
    assert f"error={error}" in r.text


def test_authorize_scope_the_app_does_not_allow_is_an_error_page(emu) -> None:
    # forcedotcom/mcp-hosted#1: RemoteAccessErrorPage ... error=invalid_scope&error_description=the requested
    # scope is not allowed.
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, scope="api full", pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "error=invalid_scope" in r.text and "the requested scope is not allowed" in r.text


def test_authorize_without_redirect_uri_is_an_error_page(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "error=redirect_uri_missing" in r.text


def test_authorize_without_pkce_redirects_invalid_request(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK)
    url, state = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    q = query_of(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
    assert q == {"error": "invalid_request", "error_description": "missing required code challenge", "state": state}


def test_authorize_plain_pkce_rejected(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="plain")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    q = query_of(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
    assert q["error"] == "invalid_request"


def test_sandbox_user_cannot_log_in_at_production_host(emu) -> None:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    with pytest.raises(EmulatorBrowserError, match="check your username"):
        emu.authorize_headless(url, username=DEFAULT_SANDBOX_USERNAME)


def test_sandbox_login_at_test_host(emu, web_login) -> None:
    tok = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_USERNAME)
    assert tok["instance_url"] == emu.my_domain_url(DEFAULT_SANDBOX_ORG_ID)
    assert tok["id"].startswith(emu.test_url + "/id/" + DEFAULT_SANDBOX_ORG_ID)


def test_my_domain_host_serves_authorize(emu, web_login) -> None:
    tok = web_login(host=emu.my_domain_url(DEFAULT_ORG_ID))
    assert tok["id"].startswith(emu.my_domain_url(DEFAULT_ORG_ID) + "/id/")


def _code(emu, verifier: str = VERIFIER) -> str:
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK)
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize", code_challenge=s256(verifier),
                                     code_challenge_method="S256")
    return query_of(emu.authorize_headless(url))["code"]


def _redeem(emu, code: str, **extra: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "client_id": DEFAULT_CONSUMER_KEY,
            "client_secret": DEFAULT_CONSUMER_SECRET, "redirect_uri": CALLBACK, "code_verifier": VERIFIER}
    data.update(extra)
    return post_token(emu.login_url + "/services/oauth2/token", **{k: v for k, v in data.items() if v is not None})


def _err(r: requests.Response) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["error"], body["error_description"]


def test_code_is_single_use(emu) -> None:
    code = _code(emu)
    assert _redeem(emu, code).status_code == 200
    assert _err(_redeem(emu, code)) == (400, "invalid_grant", "expired authorization code")


def test_code_expires(emu) -> None:
    code = _code(emu)
    emu.advance_clock(16 * 60)
    assert _err(_redeem(emu, code)) == (400, "invalid_grant", "expired authorization code")


def test_pkce_verifier_mismatch_is_invalid_request(emu) -> None:
    code = _code(emu)
    r = _redeem(emu, code, code_verifier="x" * 43)
    assert _err(r)[:2] == (400, "invalid_request")


def test_pkce_missing_verifier_is_invalid_grant(emu) -> None:
    code = _code(emu)
    r = _redeem(emu, code, code_verifier="")
    assert _err(r)[:2] == (400, "invalid_grant")


def test_verifier_for_a_code_without_challenge(emu) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, pkce_required=False)
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK)
    url, _ = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    code = query_of(emu.authorize_headless(url))["code"]
    # forcedotcom/sfdx-core#166: "unexpected code verifier".
    assert _err(_redeem(emu, code)) == (400, "invalid_request", "unexpected code verifier")
    assert _redeem(emu, code, code_verifier="").status_code == 200


def test_wrong_secret_is_invalid_client(emu) -> None:
    assert _err(_redeem(emu, _code(emu), client_secret="nope")) == (400, "invalid_client", "invalid client credentials")


def test_missing_secret_for_confidential_app(emu) -> None:
    # forcedotcom/SalesforceMobileSDK-Android#2468: "invalid_client:invalid client credentials" on the code
    # exchange while "Require Secret for Web Server Flow" is on.
    assert _err(_redeem(emu, _code(emu), client_secret="")) == (400, "invalid_client", "invalid client credentials")


def test_public_client_needs_no_secret(emu) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, require_secret_for_web_server_flow=False)
    assert _redeem(emu, _code(emu), client_secret="").status_code == 200
    # Only the web server flow setting matters here.
    emu.set_app(DEFAULT_CONSUMER_KEY, require_secret_for_web_server_flow=True,
                require_secret_for_refresh_token_flow=False)
    assert _err(_redeem(emu, _code(emu), client_secret=""))[1] == "invalid_client"


def test_unknown_client_at_token(emu) -> None:
    assert _err(_redeem(emu, _code(emu), client_id="nobody"))[:2] == (400, "invalid_client_id")


def test_redirect_uri_must_match(emu) -> None:
    assert _err(_redeem(emu, _code(emu), redirect_uri="http://localhost:1717/OauthRedirect"))[1] == (
        "redirect_uri_mismatch")


def test_unsupported_grant_type(emu) -> None:
    r = post_token(emu.login_url + "/services/oauth2/token", grant_type="pasword")
    assert _err(r) == (400, "unsupported_grant_type", "grant type not supported")


def test_client_auth_by_basic(emu) -> None:
    r = requests.post(emu.login_url + "/services/oauth2/token", timeout=10,
                      auth=(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET),
                      data={"grant_type": "authorization_code", "code": _code(emu), "redirect_uri": CALLBACK,
                            "code_verifier": VERIFIER})
    assert r.status_code == 200, r.text


def test_deactivated_user_cannot_redeem(emu) -> None:
    code = _code(emu)
    emu.deactivate_user(DEFAULT_USER_ID)
    assert _err(_redeem(emu, code)) == (400, "invalid_grant", "authentication failure")
