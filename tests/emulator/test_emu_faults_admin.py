"""Fault injection, request log and counts, sandbox refresh, reset (control surface)."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX_ONLY_USER_ID,
    DEFAULT_SANDBOX_ONLY_USERNAME,
    DEFAULT_SANDBOX_ORG_ID,
    DEFAULT_SANDBOX_USER_ID,
    DEFAULT_SANDBOX_USERNAME,
    EmulatorBrowserError,
)

from .sf360_emu_helpers import post_token


def _cc(instance: str) -> requests.Response:
    return post_token(instance + "/services/oauth2/token", grant_type="client_credentials",
                      client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503), ("429", 429), ("html_error", 503)])
def test_status_faults_then_recovery(emu, instance, kind, status) -> None:
    emu.inject_fault(endpoint="token", kind=kind, count=2)
    for _ in range(2):
        r = _cc(instance)
        assert r.status_code == status
    if kind == "429":
        assert r.headers["Retry-After"] == "1"
    if kind == "html_error":
        assert r.headers["Content-Type"].startswith("text/html") and "<html>" in r.text
    assert _cc(instance).status_code == 200
    assert [e["status"] for e in emu.request_log()] == [status, status, 200]


def test_malformed_json_fault(emu, instance) -> None:
    emu.inject_fault(endpoint="token", kind="malformed_json")
    r = _cc(instance)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_drop_fault(emu, instance) -> None:
    emu.inject_fault(endpoint="token", kind="drop")
    with pytest.raises(requests.ConnectionError):
        _cc(instance)
    assert emu.request_log()[-1]["status"] == 0
    assert _cc(instance).status_code == 200


def test_delay_fault(emu, instance) -> None:
    emu.inject_fault(endpoint="token", kind="delay", seconds=0.3)
    start = time.monotonic()
    assert _cc(instance).status_code == 200
    assert time.monotonic() - start >= 0.3


def test_rest_fault_body_and_other_endpoints_unaffected(emu, instance, web_login) -> None:
    tok = web_login()
    emu.inject_fault(endpoint="rest", kind="503")
    headers = {"Authorization": "Bearer " + tok["access_token"]}
    r = requests.get(instance + "/services/data/v59.0/limits", headers=headers, timeout=10)
    assert r.status_code == 503 and r.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert requests.get(instance + "/services/data/v59.0/limits", headers=headers, timeout=10).status_code == 200


def test_bad_fault_arguments(emu) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        emu.inject_fault(endpoint="tokens", kind="500")
    with pytest.raises(ValueError, match="kind"):
        emu.inject_fault(endpoint="token", kind="418")


def test_request_log_has_no_secrets(emu, web_login, token_url) -> None:
    tok = web_login()
    post_token(token_url, grant_type="refresh_token", refresh_token=tok["refresh_token"],
               client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)
    requests.get(tok["id"], params={"oauth_token": tok["access_token"]}, timeout=10)
    text = repr(emu.request_log())
    for secret in (tok["access_token"], tok["refresh_token"], DEFAULT_CONSUMER_SECRET, "code="):
        assert secret not in text
    counts = emu.request_counts()
    assert counts["token"] == 2 and counts["token:authorization_code"] == 1 and counts["token:refresh_token"] == 1
    assert counts["authorize"] == 3 and counts["identity"] == 1
    entry = emu.request_log()[-1]
    assert set(entry) == {"time", "method", "host", "path", "endpoint", "grant_type", "status"}


def test_refresh_sandbox_keeps_copied_users_and_drops_sandbox_only_ones(emu, web_login) -> None:
    tok = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_USERNAME)
    tester = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_ONLY_USERNAME)
    old_url = emu.my_domain_url(DEFAULT_SANDBOX_ORG_ID)
    result = emu.refresh_sandbox(DEFAULT_SANDBOX_ORG_ID)
    # salesforce.md section 12: a new Org ID every refresh; users copied from production keep their User IDs;
    # sandbox-only users are gone.
    assert result.old_org_id == DEFAULT_SANDBOX_ORG_ID and result.new_org_id.startswith("00D")
    assert result.new_org_id != DEFAULT_SANDBOX_ORG_ID
    assert result.kept_user_ids == [DEFAULT_SANDBOX_USER_ID]
    assert result.removed_user_ids == [DEFAULT_SANDBOX_ONLY_USER_ID]
    assert result.to_dict() == {"old_org_id": DEFAULT_SANDBOX_ORG_ID, "new_org_id": result.new_org_id,
                                "kept_user_ids": [DEFAULT_SANDBOX_USER_ID],
                                "removed_user_ids": [DEFAULT_SANDBOX_ONLY_USER_ID]}
    # Every token of the old org is dead.
    token_url = emu.test_url + "/services/oauth2/token"
    for old in (tok, tester):
        r = post_token(token_url, grant_type="refresh_token", refresh_token=old["refresh_token"],
                       client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)
        assert r.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        assert requests.get(emu.test_url + "/services/oauth2/userinfo",
                            headers={"Authorization": "Bearer " + old["access_token"]}, timeout=10).status_code == 401
    assert emu.holdings()["family_revocations"]["sandbox_refresh"] == 2
    # Same My Domain, new Org ID, same User ID: a fresh login sees them.
    assert emu.my_domain_url(result.new_org_id) == old_url
    tok2 = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_USERNAME)
    assert tok2["id"].endswith(f"/{result.new_org_id}/{DEFAULT_SANDBOX_USER_ID}")
    # The sandbox-only user no longer signs in.
    with pytest.raises(EmulatorBrowserError, match="check your username"):
        web_login(host=emu.test_url, username=DEFAULT_SANDBOX_ONLY_USERNAME)
    with pytest.raises(KeyError):
        emu.deactivate_user(DEFAULT_SANDBOX_ONLY_USER_ID)
    with pytest.raises(ValueError):
        emu.refresh_sandbox("00D5e000000AbCdEAK")  # production: not a sandbox


def test_old_identity_url_after_sandbox_refresh(emu, web_login) -> None:
    tok = web_login(host=emu.test_url, username=DEFAULT_SANDBOX_USERNAME)
    emu.refresh_sandbox(DEFAULT_SANDBOX_ORG_ID)
    r = requests.get(tok["id"], headers={"Authorization": "Bearer " + tok["access_token"]}, timeout=10)
    assert r.status_code == 403 and r.text == "Bad_OAuth_Token"


def test_jwt_needs_new_approval_after_sandbox_refresh(emu) -> None:
    import jwt

    emu.approve(DEFAULT_SANDBOX_USER_ID, DEFAULT_CONSUMER_KEY)
    assert emu.refresh_sandbox(DEFAULT_SANDBOX_ORG_ID).kept_user_ids == [DEFAULT_SANDBOX_USER_ID]
    assertion = jwt.encode({"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_SANDBOX_USERNAME,
                            "aud": "https://test.salesforce.com", "exp": int(time.time()) + 180},
                           emu.jwt_private_key_pem, algorithm="RS256")
    url = emu.test_url + "/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    r = post_token(url, grant_type=grant, assertion=assertion)
    assert r.json()["error_description"] == "user hasn't approved this consumer"
    emu.approve(DEFAULT_SANDBOX_USER_ID, DEFAULT_CONSUMER_KEY)
    assert post_token(url, grant_type=grant, assertion=assertion).status_code == 200


def test_reset_restores_world(emu) -> None:
    emu.refresh_sandbox(DEFAULT_SANDBOX_ORG_ID)
    emu.inject_fault(endpoint="any", kind="500", count=5)
    emu.reset()
    assert emu.my_domain_url(DEFAULT_SANDBOX_ORG_ID)
    assert emu.request_counts() == {} and emu.request_log() == [] and emu.reuse_detections == 0
    # The injected faults are gone too: the next request is answered normally.
    assert requests.get(f"{emu.my_domain_url(DEFAULT_ORG_ID)}/services/data/", timeout=10).status_code == 200


def _server_clock(response: requests.Response) -> float:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(response.headers["Date"]).timestamp()


def test_every_answer_has_a_date_on_the_emulator_clock(emu, instance) -> None:
    versions = instance + "/services/data/"
    assert abs(_server_clock(requests.get(versions, timeout=10)) - time.time()) < 5
    emu.advance_clock(3600)
    # advance_clock shows as clock skew, on successes, OAuth errors, REST errors and injected faults alike.
    answers = [requests.get(versions, timeout=10), _cc(emu.login_url),
               requests.get(instance + "/services/data/v59.0/limits", timeout=10)]
    emu.inject_fault(endpoint="token", kind="503")
    answers.append(_cc(instance))
    assert [r.status_code for r in answers] == [200, 400, 401, 503]
    for r in answers:
        assert abs(_server_clock(r) - (time.time() + 3600)) < 5
