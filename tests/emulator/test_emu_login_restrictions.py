"""Login IP ranges, login hours, IP relaxation and the app's refresh-token IP allowlist (salesforce.md section 5;
help xcloud.connected_app_continuous_ip.htm). A refusal revokes and consumes nothing."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    DEFAULT_USERNAME,
    EmulatorClient,
)

from .sf360_emu_helpers import CALLBACK, post_token, query_of

RESTRICTED = {"error": "invalid_grant", "error_description": "ip restricted or invalid login hours"}
IP_RESTRICTED = {"error": "invalid_grant", "error_description": "ip restricted"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _refresh(url: str, rt: str) -> requests.Response:
    return post_token(url, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CONSUMER_KEY,
                      client_secret=DEFAULT_CONSUMER_SECRET)


def _jwt(emu, url: str) -> requests.Response:
    assertion = jwt.encode({"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_USERNAME, "aud": "https://login.salesforce.com",
                            "exp": int(time.time()) + 180}, emu.jwt_private_key_pem, algorithm="RS256")
    return post_token(url, grant_type=JWT_GRANT, assertion=assertion)


def _client_credentials(instance: str) -> requests.Response:
    return post_token(instance + "/services/oauth2/token", grant_type="client_credentials",
                      client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)


def _family(emu, refresh_token: str):
    with emu.world.lock:
        return emu.world.families[emu.world.refresh_tokens[refresh_token]]


@pytest.mark.parametrize("reason", ["login_ip_ranges", "login_hours"])
def test_restricted_refresh_keeps_the_token(emu, web_login, token_url, reason) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, rotation=True)
    tok = web_login()
    before = emu.holdings()
    last_used = _family(emu, tok["refresh_token"]).last_used
    emu.advance_clock(60)
    emu.restrict_login(DEFAULT_USER_ID, reason)
    r = _refresh(token_url, tok["refresh_token"])
    assert (r.status_code, r.json()) == (400, RESTRICTED)
    # Nothing revoked, nothing consumed, no rotation, no new approval, the idle clock did not move.
    assert emu.holdings() == before
    assert _family(emu, tok["refresh_token"]).last_used == last_used
    assert emu.reuse_detections == 0
    emu.lift_login_restriction(DEFAULT_USER_ID)
    again = _refresh(token_url, tok["refresh_token"])
    assert again.status_code == 200 and again.json()["refresh_token"] != tok["refresh_token"]


def test_restricted_user_jwt_and_client_credentials(emu, token_url, instance) -> None:
    emu.restrict_login(DEFAULT_USER_ID)
    assert _jwt(emu, token_url).json() == RESTRICTED
    assert _client_credentials(instance).json() == RESTRICTED  # the run-as user is restricted
    emu.lift_login_restriction(DEFAULT_USER_ID)
    assert _jwt(emu, token_url).status_code == 200
    assert _client_credentials(instance).status_code == 200


def test_ip_relaxation_for_refresh_tokens(emu, web_login, token_url) -> None:
    tok = web_login()
    emu.set_app(DEFAULT_CONSUMER_KEY, ip_relaxation="relax_for_refresh_tokens")
    emu.restrict_login(DEFAULT_USER_ID, "login_ip_ranges")
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    # The JWT bearer flow always enforces IP restrictions.
    assert _jwt(emu, token_url).json() == RESTRICTED
    # Login hours are no IP restriction: not relaxed.
    emu.restrict_login(DEFAULT_USER_ID, "login_hours")
    assert _refresh(token_url, tok["refresh_token"]).json() == RESTRICTED


def test_relaxed_app_ignores_ip_ranges_except_for_jwt(emu, instance, token_url) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, ip_relaxation="relax")
    emu.restrict_login(DEFAULT_USER_ID, "login_ip_ranges")
    assert _client_credentials(instance).status_code == 200
    assert _jwt(emu, token_url).json() == RESTRICTED


def test_refresh_token_ip_allowlist(emu, web_login, token_url) -> None:
    tok = web_login()
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_ip_allowlist=["203.0.113.0/24"])
    assert _refresh(token_url, tok["refresh_token"]).json() == IP_RESTRICTED
    assert emu.holdings()["family_revocations"] == {}
    emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_ip_allowlist=["203.0.113.0/24", "127.0.0.0/8"])
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    with pytest.raises(ValueError):
        emu.set_app(DEFAULT_CONSUMER_KEY, refresh_token_ip_allowlist=["not-a-range"])


def test_restricted_user_at_authorize_is_redirected_with_the_error(emu) -> None:
    emu.restrict_login(DEFAULT_USER_ID, "login_hours")
    oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
    url, state = oauth.authorization_url(emu.login_url + "/services/oauth2/authorize")
    assert query_of(emu.authorize_headless(url, username=DEFAULT_USERNAME)) == {**RESTRICTED, "state": state}


def test_rest_is_left_alone_unless_ip_ranges_are_enforced_on_every_request(emu, web_login, instance) -> None:
    tok = web_login()
    headers = {"Authorization": "Bearer " + tok["access_token"]}
    emu.restrict_login(DEFAULT_USER_ID, "login_ip_ranges")
    limits = instance + "/services/data/v59.0/limits"
    assert requests.get(limits, headers=headers, timeout=10).status_code == 200
    with emu.world.lock:
        emu.world.orgs[DEFAULT_ORG_ID].enforce_login_ip_ranges_on_every_request = True
    r = requests.get(limits, headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    emu.lift_login_restriction(DEFAULT_USER_ID)
    assert requests.get(limits, headers=headers, timeout=10).status_code == 200


def test_restriction_through_the_control_api(emu, web_login, token_url) -> None:
    tok = web_login()
    client = EmulatorClient(emu.control_url, emu.ca_bundle)
    client.restrict_login(DEFAULT_USER_ID, "login_hours")
    assert _refresh(token_url, tok["refresh_token"]).json() == RESTRICTED
    client.lift_login_restriction(DEFAULT_USER_ID)
    assert _refresh(token_url, tok["refresh_token"]).status_code == 200
    with pytest.raises(Exception, match="reason"):
        client.restrict_login(DEFAULT_USER_ID, "full_moon")
