"""Revoke and introspect (salesforce.md section 4)."""

from __future__ import annotations

import requests

from airflow_provider_sf360.testing import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, DEFAULT_USERNAME

from .sf360_emu_helpers import post_token


def _introspect(emu, token: str, **auth: str) -> requests.Response:
    data = {"token": token, "client_id": DEFAULT_CONSUMER_KEY, "client_secret": DEFAULT_CONSUMER_SECRET}
    data.update(auth)
    return requests.post(emu.login_url + "/services/oauth2/introspect", data=data, timeout=10)


def test_introspect_access_token_has_real_exp(emu, web_login) -> None:
    tok = web_login()
    body = _introspect(emu, tok["access_token"]).json()
    assert body["active"] is True and body["token_type"] == "access_token"
    assert body["username"] == DEFAULT_USERNAME and body["client_id"] == DEFAULT_CONSUMER_KEY
    assert body["exp"] - body["iat"] == 7200
    assert body["sub"] == tok["id"]


def test_introspect_refresh_token_and_basic_auth(emu, web_login) -> None:
    tok = web_login()
    r = requests.post(emu.login_url + "/services/oauth2/introspect", data={"token": tok["refresh_token"]},
                      auth=(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET), timeout=10)
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"


def test_introspect_requires_client_auth(emu, web_login) -> None:
    tok = web_login()
    r = _introspect(emu, tok["access_token"], client_secret="bad")
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


def test_introspect_unknown_is_inactive(emu) -> None:
    assert _introspect(emu, "nothing").json() == {"active": False}


def test_revoke_refresh_token_kills_access_tokens(emu, web_login, token_url) -> None:
    tok = web_login()
    r = requests.post(emu.login_url + "/services/oauth2/revoke", data={"token": tok["refresh_token"]}, timeout=10)
    assert r.status_code == 200
    assert _introspect(emu, tok["access_token"]).json() == {"active": False}
    r = post_token(token_url, grant_type="refresh_token", refresh_token=tok["refresh_token"],
                   client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)
    assert r.json()["error"] == "invalid_grant"


def test_revoke_access_token_keeps_refresh_token(emu, web_login) -> None:
    tok = web_login()
    assert requests.post(emu.login_url + "/services/oauth2/revoke", data={"token": tok["access_token"]},
                         timeout=10).status_code == 200
    assert _introspect(emu, tok["access_token"]).json() == {"active": False}
    assert _introspect(emu, tok["refresh_token"]).json()["active"] is True


def test_revoke_errors(emu) -> None:
    r = requests.post(emu.login_url + "/services/oauth2/revoke", data={"token": "bogus"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_token"
    r = requests.post(emu.login_url + "/services/oauth2/revoke", data={}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_token_type"


def test_userinfo_fields(emu, web_login) -> None:
    tok = web_login()
    body = requests.get(emu.login_url + "/services/oauth2/userinfo",
                        headers={"Authorization": "Bearer " + tok["access_token"]}, timeout=10).json()
    assert body["sub"] == tok["id"] and body["active"] is True and body["preferred_username"] == DEFAULT_USERNAME
    assert {"organization_id", "user_id", "urls", "email", "is_app_installed"} <= set(body)


def test_userinfo_at_sandbox_host_with_production_token(emu, web_login) -> None:
    tok = web_login()
    r = requests.get(emu.test_url + "/services/oauth2/userinfo",
                     headers={"Authorization": "Bearer " + tok["access_token"]}, timeout=10)
    assert r.status_code == 401


def test_token_response_formats(emu, instance) -> None:
    from urllib.parse import parse_qs

    data = {"grant_type": "client_credentials", "client_id": DEFAULT_CONSUMER_KEY,
            "client_secret": DEFAULT_CONSUMER_SECRET}
    r = requests.post(instance + "/services/oauth2/token", data={**data, "format": "urlencoded"}, timeout=10)
    assert "access_token" in parse_qs(r.text) and "expires_in" not in parse_qs(r.text)
    r = requests.post(instance + "/services/oauth2/token", data=data, headers={"Accept": "application/xml"},
                      timeout=10)
    assert r.text.startswith("<?xml") and "<access_token>" in r.text
    r = requests.post(instance + "/services/oauth2/token", data={**data, "client_secret": "x", "format": "xml"},
                      timeout=10)
    assert r.status_code == 400 and "<error>invalid_client</error>" in r.text


def test_password_grant_not_emulated(token_url) -> None:
    r = post_token(token_url, grant_type="password", username="a", password="b")
    assert r.json()["error"] == "unsupported_grant_type"


def test_reuse_counted_even_after_family_is_dead(emu, web_login, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, rotation=True)
    tok = web_login()

    def refresh(rt: str) -> requests.Response:
        return post_token(token_url, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CONSUMER_KEY,
                          client_secret=DEFAULT_CONSUMER_SECRET)

    new = refresh(tok["refresh_token"]).json()
    assert _introspect(emu, tok["refresh_token"]).json() == {"active": False}
    assert _introspect(emu, new["refresh_token"]).json()["active"] is True
    refresh(tok["refresh_token"])
    refresh(tok["refresh_token"])
    assert emu.reuse_detections == 2
    assert _introspect(emu, new["refresh_token"]).json() == {"active": False}


def test_rest_and_control_only_on_their_hosts(emu, web_login, instance) -> None:
    tok = web_login()
    headers = {"Authorization": "Bearer " + tok["access_token"]}
    r = requests.get(emu.login_url + "/services/data/v59.0/limits", headers=headers, timeout=10)
    assert r.status_code == 401  # the login host is not an instance host
    assert requests.post(instance + "/__emulator__/counts", timeout=10).status_code == 404
    r = requests.post(instance + "/services/data/v59.0/jobs/ingest", json={"object": "Account"}, timeout=10)
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_jwt_without_uploaded_certificate(emu, token_url) -> None:
    import time

    import jwt

    emu.set_app(DEFAULT_CONSUMER_KEY, jwt_certificate="")
    assertion = jwt.encode({"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_USERNAME, "aud": "https://login.salesforce.com",
                            "exp": int(time.time()) + 60}, emu.jwt_private_key_pem, algorithm="RS256")
    r = post_token(token_url, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion)
    assert r.json()["error"] == "invalid_grant"
