"""The error table: each Salesforce error answer's meaning for the stored credential, per grant."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_sf360.core import errors
from airflow_provider_sf360.core.grants import Grant
from airflow_provider_sf360.core.oauth_errors import ERROR_TABLE, SANDBOX_REFRESHED, Meaning, error_for, rule_for

REFRESH, JWT, CC, CODE = Grant.REFRESH_TOKEN, Grant.JWT_BEARER, Grant.CLIENT_CREDENTIALS, Grant.AUTHORIZATION_CODE

# (error, error_description, grant, the provider error class, a phrase of the message)
CASES = [
    ("invalid_grant", "expired access/refresh token", REFRESH, errors.TokenRevokedError, "Set up the OAuth token"),
    ("invalid_grant", "authentication failure", REFRESH, errors.TokenRevokedError, "deactivated"),
    ("inactive_user", "user is inactive", REFRESH, errors.TokenRevokedError, "deactivated"),
    ("inactive_org", "org is locked, closed, or suspended", REFRESH, errors.AdminActionRequiredError, "kept"),
    ("invalid_client_id", "client identifier invalid", REFRESH, errors.TokenRevokedError, "consumer key"),
    ("invalid_grant", "ip restricted or invalid login hours", REFRESH, errors.LoginRestrictedError, "Login IP"),
    ("invalid_grant", "ip restricted", JWT, errors.LoginRestrictedError, "egress IP"),
    ("invalid_grant", "invalid login hours", CC, errors.LoginRestrictedError, "login hours"),
    ("invalid_grant", "user hasn't approved this consumer", JWT, errors.AdminActionRequiredError, "pre-authorized"),
    ("invalid_grant", "audience is invalid", JWT, errors.AdminActionRequiredError, "JWT Audience"),
    ("invalid_grant", "Audience validation failed", JWT, errors.AdminActionRequiredError, "test.salesforce.com"),
    ("invalid_grant", "token validity expired", JWT, errors.AdminActionRequiredError, "clock"),
    ("invalid_grant", "token validity expired", REFRESH, errors.TokenRevokedError, "refresh token policy"),
    ("invalid_grant", "invalid assertion", JWT, errors.ClientRejectedError, "certificate"),
    ("invalid_grant", "request not supported on this domain", CC, errors.AdminActionRequiredError, "My Domain"),
    ("invalid_grant", "no client credentials user enabled", CC, errors.AdminActionRequiredError, "Run As"),
    ("invalid_grant", "invalid authorization code", CODE, errors.SalesforceRequestError, "setup again"),
    ("invalid_client", "invalid client credentials", CC, errors.ClientRejectedError, "Consumer Key"),
    ("invalid_client_id", "client identifier invalid", JWT, errors.ClientRejectedError, "Consumer Key"),
    ("invalid_client", "invalid client credentials", REFRESH, errors.ClientRejectedError, "Consumer Secret"),
    ("unsupported_grant_type", "grant type not supported", JWT, errors.AdminActionRequiredError, "Flow Enablement"),
    ("invalid_scope", "bad scope", CODE, errors.AdminActionRequiredError, "Selected OAuth Scopes"),
    ("invalid_request", "invalid code verifier", CODE, errors.AdminActionRequiredError, "PKCE"),
    ("rate_limit_exceeded", "too many logins", REFRESH, errors.SalesforceUnreachableError, "retried"),
    ("temporarily_unavailable", "maintenance", JWT, errors.SalesforceUnreachableError, "temporarily"),
    ("invalid_grant", "something new", REFRESH, errors.SalesforceRequestError, "kept"),
    ("mystery", "", CC, errors.SalesforceRequestError, "no description"),
]


@pytest.mark.parametrize(("error", "description", "grant", "cls", "phrase"), CASES)
def test_each_answer_becomes_the_error_that_says_what_to_do(
    error: str, description: str, grant: Grant, cls: type[errors.SF360Error], phrase: str
) -> None:
    raised = error_for(error, description, grant)
    assert type(raised) is cls, raised
    assert phrase.lower() in str(raised).lower()
    assert description in str(raised)  # Salesforce's own words are quoted
    restored = pickle.loads(pickle.dumps(raised))
    assert type(restored) is cls and str(restored) == str(raised)


@pytest.mark.parametrize("rule", [r for r in ERROR_TABLE if r.meaning is Meaning.DEAD], ids=lambda r: r.case)
@pytest.mark.parametrize("grant", [JWT, CC])
def test_machine_flows_are_never_marked_revoked(rule: object, grant: Grant) -> None:
    """JWT bearer and client credentials hold nothing to revoke: a 'dead' answer means an admin must act."""
    error_code = rule.errors[0]  # type: ignore[attr-defined]
    raised = error_for(error_code, rule.description or "x", grant)  # type: ignore[attr-defined]
    if rule.grants is not None and grant not in rule.grants:  # type: ignore[attr-defined]
        return
    assert not isinstance(raised, errors.TokenRevokedError), raised
    assert "set up the oauth token again" not in str(raised).lower()


def test_only_dead_answers_to_refresh_grants_drop_a_token() -> None:
    dead = {rule.case for rule in ERROR_TABLE if rule.meaning is Meaning.DEAD}
    assert dead == {"revoked", "user_inactive", "app_gone"}
    for rule in ERROR_TABLE:
        matched = rule_for(rule.errors[0], rule.description or "x", REFRESH)
        raised = error_for(rule.errors[0], rule.description or "x", REFRESH)
        dead = matched is not None and matched.meaning_for(REFRESH) is Meaning.DEAD
        assert isinstance(raised, errors.TokenRevokedError) == dead


def test_a_dead_sandbox_token_names_the_sandbox_refresh_first() -> None:
    raised = str(error_for("invalid_grant", "expired access/refresh token", REFRESH, is_sandbox=True))
    assert SANDBOX_REFRESHED in raised
    assert raised.index("new Org ID") < raised.index("revoked")
    assert "copied from production keeps its User ID" in raised and "must be recreated" in raised


def test_setup_pages_name_the_external_client_app_first() -> None:
    for rule in ERROR_TABLE:
        if "App Manager" in rule.advice:
            assert rule.advice.index("External Client App Manager") < rule.advice.index("App Manager >")


def test_ip_restricted_is_not_read_as_a_revocation_by_any_rule() -> None:
    rule = rule_for("invalid_grant", "ip restricted or invalid login hours", REFRESH)
    assert rule is not None and rule.meaning is Meaning.ADMIN and rule.case == "login_restricted"


@pytest.mark.parametrize("grant", [REFRESH, CODE])
def test_a_missing_secret_where_the_app_requires_one_says_so(grant: Grant) -> None:
    """Salesforce answers a missing secret like a wrong one; without a secret sent, it can only be 'required'."""
    raised = error_for("invalid_client", "invalid client credentials", grant, secret_sent=False)
    assert isinstance(raised, errors.AdminActionRequiredError) and raised.case == "secret_required"
    message = str(raised)
    assert "Require secret for Refresh Token Flow" in message and "Require secret for Web Server Flow" in message
    wrong = error_for("invalid_client", "invalid client credentials", grant, secret_sent=True)
    assert isinstance(wrong, errors.ClientRejectedError)
