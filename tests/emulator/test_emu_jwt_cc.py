"""JWT bearer (salesforce.md 2.3) and client credentials (2.4) with simple-salesforce and PyJWT."""

from __future__ import annotations

import time

import jwt
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX_ORG_ID,
    DEFAULT_SANDBOX_USER_ID,
    DEFAULT_SANDBOX_USERNAME,
    DEFAULT_SECOND_USER_ID,
    DEFAULT_SECOND_USERNAME,
    DEFAULT_USERNAME,
)

from .sf360_emu_helpers import post_token

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _assertion(emu, **claims: object) -> str:
    payload: dict[str, object] = {"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_USERNAME,
                                  "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180}
    payload.update(claims)
    return jwt.encode(payload, emu.jwt_private_key_pem, algorithm="RS256")


def _jwt_error(url: str, assertion: str) -> tuple[int, dict]:
    r = post_token(url, grant_type=GRANT, assertion=assertion)
    return r.status_code, r.json()


def test_simple_salesforce_jwt_login(emu) -> None:
    sf = Salesforce(username=DEFAULT_USERNAME, consumer_key=DEFAULT_CONSUMER_KEY,
                    privatekey=emu.jwt_private_key_pem, session=emu.requests_session())
    assert sf.sf_instance == emu.my_domain_url(DEFAULT_ORG_ID).removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert emu.request_counts()["token:jwt_bearer"] == 1


def test_handmade_jwt_answer_has_exactly_the_documented_keys(emu, token_url) -> None:
    r = post_token(token_url, grant_type=GRANT, assertion=_assertion(emu))
    assert r.status_code == 200
    # salesforce.md section 2.3 "Response shape": no issued_at, no signature, no refresh token, no expires_in.
    assert list(r.json()) == ["access_token", "scope", "instance_url", "id", "token_type"]


AUDIENCE_INVALID = (400, {"error": "invalid_grant", "error_description": "audience is invalid"})


def test_jwt_wrong_audience(emu, token_url) -> None:
    assert _jwt_error(token_url, _assertion(emu, aud="https://test.salesforce.com")) == AUDIENCE_INVALID


@pytest.mark.parametrize("host", ["login", "my_domain"])
def test_jwt_emulator_urls_are_no_audience(emu, host) -> None:
    # omniphx/forrest#302: the My Domain URL as aud is refused; the emulator's own login URL stands for
    # login.salesforce.com the host, not for its audience.
    base = emu.login_url if host == "login" else emu.my_domain_url(DEFAULT_ORG_ID)
    for aud in (emu.login_url, emu.my_domain_url(DEFAULT_ORG_ID), "https://acme.my.salesforce.com"):
        assert _jwt_error(base + "/services/oauth2/token", _assertion(emu, aud=aud)) == AUDIENCE_INVALID


def test_jwt_generic_audience_at_my_domain(emu) -> None:
    # GovCloud/My Domain posts still sign aud = https://login.salesforce.com (simple-salesforce PR #711).
    url = emu.my_domain_url(DEFAULT_ORG_ID) + "/services/oauth2/token"
    r = post_token(url, grant_type=GRANT, assertion=_assertion(emu))
    assert r.status_code == 200 and r.json()["id"].startswith(emu.my_domain_url(DEFAULT_ORG_ID) + "/id/")


def test_jwt_sandbox_audience_at_sandbox_my_domain(emu) -> None:
    emu.approve(DEFAULT_SANDBOX_USER_ID, DEFAULT_CONSUMER_KEY)
    url = emu.my_domain_url(DEFAULT_SANDBOX_ORG_ID) + "/services/oauth2/token"
    ok = _assertion(emu, sub=DEFAULT_SANDBOX_USERNAME, aud="https://test.salesforce.com")
    assert post_token(url, grant_type=GRANT, assertion=ok).status_code == 200
    wrong = _assertion(emu, sub=DEFAULT_SANDBOX_USERNAME, aud="https://login.salesforce.com")
    assert _jwt_error(url, wrong) == AUDIENCE_INVALID


def test_jwt_experience_cloud_site_audience(emu) -> None:
    site = "https://acme.my.site.com"
    with emu.world.lock:
        emu.world.orgs[DEFAULT_ORG_ID].experience_site_urls = [site]
    assertion = _assertion(emu, aud=site)
    my_domain = emu.my_domain_url(DEFAULT_ORG_ID) + "/services/oauth2/token"
    assert post_token(my_domain, grant_type=GRANT, assertion=assertion).status_code == 200
    # Another org's host, or the generic login host, does not take the site as audience.
    assert _jwt_error(emu.login_url + "/services/oauth2/token", assertion) == AUDIENCE_INVALID
    # requests_session() routes the site's host name to the org's My Domain host.
    r = emu.requests_session().post(site + "/services/oauth2/token", data={"grant_type": GRANT,
                                                                           "assertion": assertion}, timeout=10)
    assert r.status_code == 200


def test_experience_site_urls_must_be_https() -> None:
    from airflow_provider_sf360.testing import OrgConfig

    with pytest.raises(ValueError, match="https"):
        OrgConfig("00D5e000000AbCdEAK", "acme", experience_site_urls=["http://acme.my.site.com"])


def test_jwt_expired(emu, token_url) -> None:
    status, body = _jwt_error(token_url, _assertion(emu, exp=int(time.time()) - 10))
    assert (status, body["error"]) == (400, "invalid_grant")


def test_jwt_bad_signature(emu, token_url) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    bad = jwt.encode({"iss": DEFAULT_CONSUMER_KEY, "sub": DEFAULT_USERNAME, "aud": "https://login.salesforce.com",
                      "exp": int(time.time()) + 180}, other, algorithm="RS256")
    status, body = _jwt_error(token_url, bad)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_jwt_unknown_issuer(emu, token_url) -> None:
    assert _jwt_error(token_url, _assertion(emu, iss="nobody"))[1]["error"] == "invalid_client_id"


def test_jwt_user_not_approved_then_approved(emu, token_url) -> None:
    assertion = _assertion(emu, sub=DEFAULT_SECOND_USERNAME)
    assert _jwt_error(token_url, assertion) == (
        400, {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"})
    emu.approve(DEFAULT_SECOND_USER_ID, DEFAULT_CONSUMER_KEY)
    assert post_token(token_url, grant_type=GRANT, assertion=assertion).status_code == 200


def test_jwt_approval_through_earlier_refresh_token(emu, web_login, token_url) -> None:
    assertion = _assertion(emu, sub=DEFAULT_SECOND_USERNAME)
    # salesforce.md section 2.3: the original grant must carry a standard scope besides refresh_token.
    web_login(username=DEFAULT_SECOND_USERNAME, scope="refresh_token offline_access")
    assert _jwt_error(token_url, assertion)[1]["error_description"] == "user hasn't approved this consumer"
    web_login(username=DEFAULT_SECOND_USERNAME)
    assert post_token(token_url, grant_type=GRANT, assertion=assertion).status_code == 200


def test_simple_salesforce_warns_on_unapproved(emu) -> None:
    with pytest.warns(UserWarning, match="Allow Access"), pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(username=DEFAULT_SECOND_USERNAME, consumer_key=DEFAULT_CONSUMER_KEY,
                   privatekey=emu.jwt_private_key_pem, session=emu.requests_session())


def test_jwt_sandbox_user(emu) -> None:
    emu.approve(DEFAULT_SANDBOX_USER_ID, DEFAULT_CONSUMER_KEY)
    sandbox = _assertion(emu, sub=DEFAULT_SANDBOX_USERNAME, aud="https://test.salesforce.com")
    assert post_token(emu.test_url + "/services/oauth2/token", grant_type=GRANT, assertion=sandbox).status_code == 200
    # The same user at the production host is unknown there.
    assert _jwt_error(emu.login_url + "/services/oauth2/token", sandbox) == (
        400, {"error": "invalid_grant", "error_description": "authentication failure"})


def test_jwt_deactivated_user(emu, token_url) -> None:
    from airflow_provider_sf360.testing import DEFAULT_USER_ID

    emu.deactivate_user(DEFAULT_USER_ID)
    assert _jwt_error(token_url, _assertion(emu))[1]["error_description"] == "authentication failure"


def test_client_credentials_answer_has_exactly_the_documented_keys(emu, instance) -> None:
    r = post_token(instance + "/services/oauth2/token", grant_type="client_credentials",
                   client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)
    # salesforce.md section 2.4: no refresh token (simple-salesforce PR #662), no expires_in.
    assert list(r.json()) == ["access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"]


def test_simple_salesforce_client_credentials(emu) -> None:
    sf = Salesforce(consumer_key=DEFAULT_CONSUMER_KEY, consumer_secret=DEFAULT_CONSUMER_SECRET, domain="acme.my",
                    session=emu.requests_session())
    assert sf.query("SELECT Id FROM Organization")["records"][0]["Id"] == DEFAULT_ORG_ID
    assert emu.request_counts()["token:client_credentials"] == 1


def test_client_credentials_only_on_my_domain(emu, token_url) -> None:
    r = post_token(token_url, grant_type="client_credentials", client_id=DEFAULT_CONSUMER_KEY,
                   client_secret=DEFAULT_CONSUMER_SECRET)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_client_credentials_wrong_secret(emu, instance) -> None:
    r = post_token(instance + "/services/oauth2/token", grant_type="client_credentials",
                   client_id=DEFAULT_CONSUMER_KEY, client_secret="wrong")
    assert r.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}


def test_client_credentials_without_run_as_user(emu, instance) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, run_as_username="")
    r = post_token(instance + "/services/oauth2/token", grant_type="client_credentials",
                   client_id=DEFAULT_CONSUMER_KEY, client_secret=DEFAULT_CONSUMER_SECRET)
    assert r.json()["error"] == "invalid_grant"
