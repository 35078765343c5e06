"""Refresh token flow, rotation, reuse detection, approvals limit, policies, session timeout
(salesforce.md sections 2.2, 5, 6, 7)."""

from __future__ import annotations

import requests
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.core.answers import signature_is_valid
from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX_USERNAME,
    DEFAULT_USER_ID,
)

from .sf360_emu_helpers import post_token

INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
EXPIRED = {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def _refresh(url: str, rt: str, **extra: str) -> requests.Response:
    fields = {"client_secret": DEFAULT_CONSUMER_SECRET, **extra}
    return post_token(url, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CONSUMER_KEY, **fields)


def _oauthlib_refresh(url: str, token: dict) -> dict:
    """requests-oauthlib refresh, session built without scope (salesforce.md section 10)."""
    sess = OAuth2Session(DEFAULT_CONSUMER_KEY, token=token)
    return dict(sess.refresh_token(url, client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET))


def test_refresh_without_rotation_keeps_rt(emu, web_login, token_url) -> None:
    tok = web_login()
    raw = _refresh(token_url, tok["refresh_token"])
    assert raw.status_code == 200
    body = raw.json()
    assert "refresh_token" not in body and "expires_in" not in body
    assert signature_is_valid(body, DEFAULT_CONSUMER_SECRET)
    new = _oauthlib_refresh(token_url, tok)
    assert new["refresh_token"] == tok["refresh_token"]  # re-inserted by requests-oauthlib
    assert new["access_token"] != tok["access_token"]
    assert emu.request_counts()["token:refresh_token"] == 2


def test_rotation_and_reuse_revokes_family(emu, web_login, token_url, instance) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, rotation=True)
    tok = web_login()
    new = _oauthlib_refresh(token_url, tok)
    assert new["refresh_token"] != tok["refresh_token"]
    # Reuse of the rotated-out token: invalid_grant and the whole family dies (section 6).
    r = _refresh(token_url, tok["refresh_token"])
    assert r.status_code == 400 and r.json() == EXPIRED
    assert emu.reuse_detections == 1
    assert _refresh(token_url, new["refresh_token"]).json() == EXPIRED
    r = requests.get(instance + "/services/data/v59.0/limits",
                     headers={"Authorization": "Bearer " + new["access_token"]}, timeout=10)
    assert r.status_code == 401 and r.json() == INVALID_SESSION


def test_scope_on_refresh_is_rejected(web_login, token_url) -> None:
    tok = web_login()
    assert _refresh(token_url, tok["refresh_token"], scope="api").json()["error"] == "invalid_request"


BAD_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}


def _refresh_without_secret(url: str, rt: str) -> requests.Response:
    return post_token(url, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CONSUMER_KEY)


def test_refresh_secret_rules(emu, web_login, token_url) -> None:
    tok = web_login()
    r = _refresh_without_secret(token_url, tok["refresh_token"])
    assert (r.status_code, r.json()) == (400, BAD_CLIENT)
    emu.set_app(DEFAULT_CONSUMER_KEY, require_secret=False)  # the old single switch sets both settings
    app = emu.world.apps[DEFAULT_CONSUMER_KEY]
    assert not app.require_secret_for_web_server_flow and not app.require_secret_for_refresh_token_flow
    assert _refresh_without_secret(token_url, tok["refresh_token"]).status_code == 200
    # A wrong secret fails even where none is required.
    assert _refresh(token_url, tok["refresh_token"], client_secret="wrong").json() == BAD_CLIENT


def test_require_secret_is_per_flow(emu, web_login, token_url) -> None:
    tok = web_login()
    # External Client Apps: "Require secret for Refresh Token Flow" off, "... for Web Server Flow" on.
    emu.set_app(DEFAULT_CONSUMER_KEY, require_secret_for_refresh_token_flow=False)
    assert _refresh_without_secret(token_url, tok["refresh_token"]).status_code == 200
    emu.set_app(DEFAULT_CONSUMER_KEY, require_secret_for_refresh_token_flow=True,
                require_secret_for_web_server_flow=False)
    assert _refresh_without_secret(token_url, tok["refresh_token"]).json() == BAD_CLIENT


def test_refresh_at_my_domain_but_not_at_other_host(emu, web_login, instance) -> None:
    tok = web_login()
    assert _refresh(instance + "/services/oauth2/token", tok["refresh_token"]).status_code == 200
    assert _refresh(emu.test_url + "/services/oauth2/token", tok["refresh_token"]).json() == EXPIRED


def test_sandbox_rt_rejected_at_production_host(emu, web_login) -> None:
    tok = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_USERNAME)
    assert _refresh(emu.login_url + "/services/oauth2/token", tok["refresh_token"]).json() == EXPIRED
    assert _refresh(emu.test_url + "/services/oauth2/token", tok["refresh_token"]).status_code == 200


def test_unknown_refresh_token(token_url) -> None:
    assert _refresh(token_url, "5Aep861nothing").json() == EXPIRED


def test_deactivated_user_refresh_fails(emu, web_login, token_url) -> None:
    tok = web_login()
    emu.deactivate_user(DEFAULT_USER_ID)
    assert _refresh(token_url, tok["refresh_token"]).json() == {
        "error": "invalid_grant", "error_description": "authentication failure"}


def test_admin_revokes_user_tokens(emu, web_login, token_url, instance) -> None:
    tok = web_login()
    assert emu.revoke_user_tokens(DEFAULT_USER_ID) >= 1
    assert _refresh(token_url, tok["refresh_token"]).json() == EXPIRED
    r = requests.get(instance + "/services/data/v59.0/", headers={"Authorization": "Bearer " + tok["access_token"]},
                     timeout=10)
    assert r.status_code == 401


def test_sixth_approval_revokes_the_oldest(web_login, token_url) -> None:
    tokens = [web_login() for _ in range(6)]
    assert _refresh(token_url, tokens[0]["refresh_token"]).json() == EXPIRED
    for tok in tokens[1:]:
        assert _refresh(token_url, tok["refresh_token"]).status_code == 200


def test_policy_immediately_expire(emu, web_login, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_policy="immediately_expire")
    assert _refresh(token_url, web_login()["refresh_token"]).json() == EXPIRED


def test_policy_expire_after(emu, web_login, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_after", refresh_token_ttl=3600)
    tok = web_login()
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    emu.advance_clock(3601)
    assert _refresh(token_url, tok["refresh_token"]).json() == EXPIRED


def _last_used(emu, refresh_token: str) -> float:
    with emu.world.lock:
        return emu.world.families[emu.world.refresh_tokens[refresh_token]].last_used


def test_policy_expire_if_unused(emu, web_login, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused", refresh_token_ttl=100)
    tok = web_login()
    emu.advance_clock(90)
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    emu.advance_clock(90)
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    emu.advance_clock(101)
    assert _refresh(token_url, tok["refresh_token"]).json() == EXPIRED


def test_every_redemption_moves_the_idle_clock(emu, web_login, token_url, instance) -> None:
    """salesforce.md section 7 "expire if unused for N" (help xcloud.connected_app_limit_idle_ttl.htm)."""
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused", refresh_token_ttl=100)
    tok = web_login()
    previous = _last_used(emu, tok["refresh_token"])
    for host in (token_url, instance + "/services/oauth2/token", token_url):
        emu.advance_clock(60)
        assert _refresh(host, tok["refresh_token"]).status_code == 200
        now = _last_used(emu, tok["refresh_token"])
        assert now >= previous + 60
        previous = now
    # Using the access token is no redemption: the idle clock does not move.
    emu.advance_clock(60)
    fresh = _refresh(token_url, tok["refresh_token"]).json()
    emu.advance_clock(60)
    headers = {"Authorization": "Bearer " + fresh["access_token"]}
    assert requests.get(instance + "/services/data/v59.0/limits", headers=headers, timeout=10).status_code == 200
    emu.advance_clock(41)
    assert _refresh(token_url, tok["refresh_token"]).json() == EXPIRED
    r = requests.post(emu.login_url + "/services/oauth2/introspect", timeout=10,
                      data={"token": tok["refresh_token"], "client_id": DEFAULT_CONSUMER_KEY,
                            "client_secret": DEFAULT_CONSUMER_SECRET})
    assert r.json() == {"active": False}


def test_idle_rotated_token_expires_too(emu, web_login, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused", refresh_token_ttl=100,
                rotation=True)
    tok = web_login()
    emu.advance_clock(90)
    rotated = _refresh(token_url, tok["refresh_token"]).json()["refresh_token"]
    emu.advance_clock(90)
    rotated = _refresh(token_url, rotated).json()["refresh_token"]
    emu.advance_clock(101)
    assert _refresh(token_url, rotated).json() == EXPIRED
    assert emu.reuse_detections == 0


def test_refresh_answer_keys(emu, web_login, token_url) -> None:
    tok = web_login(scope="api refresh_token openid")
    plain = ["access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"]
    # No id_token on refresh even with openid (the help page's example), no refresh_token without rotation.
    assert list(_refresh(token_url, tok["refresh_token"]).json()) == plain
    emu.set_app(DEFAULT_CONSUMER_KEY, rotation=True)
    assert list(_refresh(token_url, tok["refresh_token"]).json()) == ["access_token", "refresh_token", *plain[1:]]


def test_access_token_expires_after_session_timeout(emu, web_login, instance) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, session_timeout=30)
    tok = web_login()
    headers = {"Authorization": "Bearer " + tok["access_token"]}
    assert requests.get(instance + "/services/data/v59.0/limits", headers=headers, timeout=10).status_code == 200
    ui = requests.get(emu.login_url + "/services/oauth2/userinfo", headers=headers, timeout=10)
    assert ui.status_code == 200 and ui.json()["user_id"] == DEFAULT_USER_ID
    emu.advance_clock(31)
    r = requests.get(instance + "/services/data/v59.0/limits", headers=headers, timeout=10)
    assert r.status_code == 401 and r.json() == INVALID_SESSION
    assert requests.get(emu.login_url + "/services/oauth2/userinfo", headers=headers, timeout=10).status_code == 401
    r = requests.get(tok["id"], headers=headers, timeout=10)
    assert r.status_code == 403 and r.text == "Bad_OAuth_Token"


def test_identity_url_accepts_15_char_ids(emu, web_login) -> None:
    tok = web_login()
    url = f"{emu.login_url}/id/{DEFAULT_ORG_ID[:15]}/{DEFAULT_USER_ID[:15]}"
    r = requests.get(url, params={"oauth_token": tok["access_token"]}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["organization_id"] == DEFAULT_ORG_ID and body["user_id"] == DEFAULT_USER_ID
    assert body["active"] is True and body["urls"]["rest"].startswith(emu.my_domain_url(DEFAULT_ORG_ID))
