from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from airflow_provider_sf360.core.credentials import (
    AuthFlow,
    SF360Credentials,
    credentials_from_connection_fields,
    normalize_pem,
)
from airflow_provider_sf360.core.errors import CredentialsInvalidError, UntrustedHostError
from airflow_provider_sf360.core.hosts import ProviderSettings, require_trusted_url

ORG15, ORG18 = "00D5e000000AbCd", "00D5e000000AbCdEAK"
USER15, USER18 = "0055e000001XyZa", "0055e000001XyZaAAK"
SETTINGS = ProviderSettings.from_options("127.0.0.1")


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


RSA_PEM = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def build(extra: dict[str, Any], login: str | None = "3MVGkey", password: str | None = None) -> SF360Credentials:
    fields = {"org_id": ORG15, "user_id": USER15, **extra}
    return credentials_from_connection_fields("sf_test", fields, login, password, SETTINGS)


def problems_of(extra: dict[str, Any], **kwargs: Any) -> tuple[str, ...]:
    with pytest.raises(CredentialsInvalidError) as err:
        build(extra, **kwargs)
    assert "sf_test" in str(err.value)
    return err.value.problems


def test_defaults_give_production_web_server_flow() -> None:
    creds = build({})
    assert (creds.org_id, creds.user_id) == (ORG18, USER18)
    assert creds.auth_flow is AuthFlow.AUTHORIZATION_CODE
    assert creds.login_url == "https://login.salesforce.com"
    assert creds.api_version == "64.0"


def test_sandbox_box_picks_test_host() -> None:
    assert build({"is_sandbox": True}).login_url == "https://test.salesforce.com"
    assert build({"is_sandbox": "true"}).login_url == "https://test.salesforce.com"


def test_empty_strings_and_none_are_missing() -> None:
    creds = build({"login_url": "", "username": None, "api_version": ""})
    assert creds.login_url == "https://login.salesforce.com" and creds.username is None


def test_18_char_ids_in_any_case_become_canonical() -> None:
    creds = build({"org_id": ORG18.lower(), "user_id": f"  {USER18.upper()} "})
    assert (creds.org_id, creds.user_id) == (ORG18, USER18)


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"org_id": USER15, "user_id": "005abc", "auth_flow": "jwt_bearer",
                            "api_version": "sixty"}, login=None)
    joined = "\n".join(problems)
    for label in ("Salesforce Org ID", "Salesforce User ID", "Consumer Key", "Salesforce Username",
                  "Private Key (PEM)", "API Version"):
        assert label in joined
    assert "looks like a User ID" in joined
    assert len(problems) == 6


def test_missing_ids_are_named() -> None:
    with pytest.raises(CredentialsInvalidError) as err:
        credentials_from_connection_fields("c", {}, "k", None, SETTINGS)
    assert "Salesforce Org ID: missing" in str(err.value)
    assert "Salesforce User ID: missing" in str(err.value)


@pytest.mark.parametrize(("flow", "extra", "password", "expected"), [
    ("client_credentials", {}, None, ["Consumer Secret: missing", "Login URL (My Domain): missing"]),
    ("refresh_token", {}, None, ["Refresh Token: missing"]),
    ("jwt_bearer", {"username": "u@x"}, None, ["Private Key (PEM): missing"]),
])
def test_fields_required_per_flow(flow: str, extra: dict[str, Any], password: str | None,
                                  expected: list[str]) -> None:
    problems = problems_of({"auth_flow": flow, **extra}, password=password)
    for fragment in expected:
        assert any(fragment in p for p in problems), problems


def test_every_flow_builds_when_complete() -> None:
    assert build({"auth_flow": "jwt_bearer", "username": "u@acme", "private_key": RSA_PEM}).private_key
    assert build({"auth_flow": "refresh_token", "refresh_token": "5Aep"}).refresh_token == "5Aep"
    cc = build({"auth_flow": "client_credentials", "login_url": "https://acme.my.salesforce.com/"},
               password="s")
    assert cc.login_url == "https://acme.my.salesforce.com"


def test_unknown_flow() -> None:
    assert "OAuth flow: 'password' is not one of" in problems_of({"auth_flow": "password"})[0]


@pytest.mark.parametrize(("url", "fragment"), [
    ("http://acme.my.salesforce.com", "https://"),
    ("https://evil.example.com", "not a Salesforce login or My Domain host"),
    ("https://salesforce.com.evil.example", "not a Salesforce login or My Domain host"),
    ("acme.my.salesforce.com", "https://"),
    ("https://acme.my.site.com", "not a Salesforce login or My Domain host"),
    ("https://acme.force.com", "not a Salesforce login or My Domain host"),
    ("https://acme.my.salesforce.com/services/oauth2/token", "remove the path '/services/oauth2/token'"),
    ("https://login.salesforce.com/x", "remove the path"),
    # The review's attack: a Sites page that would receive the client credentials POST (Consumer Secret).
    ("https://x.my.salesforce-sites.com/services/apexrest/grab", "not a Salesforce login or My Domain host"),
    ("https://acme.my.salesforce.com/services/apexrest/grab", "remove the path '/services/apexrest/grab'"),
    ("https://acme.my.salesforce-sites.com", "not a Salesforce login or My Domain host"),
    ("https://acme.lightning.force.com", "not a Salesforce login or My Domain host"),
])
def test_login_url_must_be_https_salesforce(url: str, fragment: str) -> None:
    problem = problems_of({"login_url": url})[0]
    assert problem.startswith("Login URL (My Domain)") and fragment in problem


def test_allowed_hosts_extend_salesforce_domains() -> None:
    assert build({"login_url": "https://127.0.0.1:8443"}).login_url == "https://127.0.0.1:8443"
    strict = ProviderSettings()
    with pytest.raises(CredentialsInvalidError, match="allowed_hosts"):
        credentials_from_connection_fields("c", {"org_id": ORG15, "user_id": USER15,
                                                 "login_url": "https://127.0.0.1:8443"}, "k", None, strict)


def test_suffix_entries_in_allowed_hosts() -> None:
    settings = ProviderSettings.from_options(" .proxy.example , other.example ")
    assert require_trusted_url("https://sf.proxy.example/x", settings, "t")
    with pytest.raises(UntrustedHostError):
        require_trusted_url("https://proxy.example.evil/x", settings, "t")


@pytest.mark.parametrize(("sandbox", "url"), [
    (True, "https://acme.my.salesforce.com"),
    (True, "https://login.salesforce.com"),
    (False, "https://acme--uat.sandbox.my.salesforce.com"),
    (False, "https://test.salesforce.com"),
])
def test_sandbox_box_must_match_login_url(sandbox: bool, url: str) -> None:
    problem = problems_of({"is_sandbox": sandbox, "login_url": url})[0]
    assert "Use salesforce.com Sandbox" in problem


def test_client_credentials_needs_my_domain() -> None:
    problems = problems_of({"auth_flow": "client_credentials", "login_url": "https://login.salesforce.com"},
                           password="s")
    assert "My Domain" in problems[0]


def test_malformed_pem_keys() -> None:
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert "not an RSA key" in problems_of({"auth_flow": "jwt_bearer", "username": "u", "private_key": ec_pem})[0]
    broken = RSA_PEM.replace(RSA_PEM.splitlines()[3], "AAAA")
    assert "could not be read" in problems_of({"auth_flow": "jwt_bearer", "username": "u",
                                               "private_key": broken})[0]
    assert "not a PEM private key" in problems_of({"auth_flow": "jwt_bearer", "username": "u",
                                                   "private_key": "hello"})[0]


def test_pem_pasted_on_one_line_is_restored() -> None:
    one_line = " ".join(RSA_PEM.splitlines())
    assert normalize_pem(one_line) == RSA_PEM
    assert build({"auth_flow": "jwt_bearer", "username": "u", "private_key": one_line}).private_key == RSA_PEM


def test_callback_url_rules() -> None:
    assert build({"callback_url": "http://localhost:1717/OauthRedirect"}).callback_url
    assert "Callback URL" in problems_of({"callback_url": "http://airflow.example.com/cb"})[0]


def test_bad_boolean() -> None:
    assert "Use salesforce.com Sandbox" in problems_of({"is_sandbox": "maybe"})[0]


def test_secrets_stay_out_of_repr_and_describe() -> None:
    creds = build({"auth_flow": "refresh_token", "refresh_token": "5AepSECRET"}, password="SECRETPW")
    assert "SECRET" not in repr(creds)
    assert "SECRET" not in str(creds.describe())


def test_state_key_belongs_to_the_connection_not_to_its_public_fields() -> None:
    """Copying a connection's public fields (org, user, consumer key, login URL) never reaches its token."""
    a = credentials_from_connection_fields("a", {"org_id": ORG15, "user_id": USER15}, "k", None, SETTINGS)
    copy = credentials_from_connection_fields("b", {"org_id": ORG15, "user_id": USER15}, "k", None, SETTINGS)
    assert a.state_key != copy.state_key
    assert a.app_fingerprint == copy.app_fingerprint  # the same app: sharing on purpose is possible
    assert "token" in a.state_key  # Airflow masks Variables whose key names a token
