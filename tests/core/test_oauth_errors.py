"""The token endpoint's error table (``core/oauth_errors.py``): what an answer means for the stored credential.

Only a "dead" answer to a refresh grant marks a token revoked; the same answer to a JWT bearer or client
credentials grant is an admin's to fix (those flows hold no token to lose); "ip restricted" keeps the token.
"""

from __future__ import annotations

import pytest

from airflow_provider_sf360.core.errors import (
    AdminActionRequiredError,
    ClientRejectedError,
    LoginRestrictedError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    TokenRevokedError,
)
from airflow_provider_sf360.core.grants import Grant
from airflow_provider_sf360.core.oauth_errors import ERROR_TABLE, error_for

MACHINE = (Grant.JWT_BEARER, Grant.CLIENT_CREDENTIALS)


@pytest.mark.parametrize("description", ["expired access/refresh token", "authentication failure"])
def test_a_dead_answer_revokes_only_a_refresh_token(description: str) -> None:
    error = error_for("invalid_grant", description, Grant.REFRESH_TOKEN)
    assert type(error) is TokenRevokedError and "set up the oauth token again" in str(error).lower()
    for grant in MACHINE:
        machine = error_for("invalid_grant", description, grant)
        assert type(machine) is AdminActionRequiredError, grant
        assert not isinstance(machine, TokenRevokedError)
        assert "no setup is needed afterwards" in str(machine).lower(), str(machine)


@pytest.mark.parametrize("grant", list(Grant))
def test_ip_restricted_keeps_the_token_for_every_grant(grant: Grant) -> None:
    error = error_for("invalid_grant", "ip restricted", grant)
    assert type(error) is LoginRestrictedError and isinstance(error, AdminActionRequiredError)
    assert error.case == "login_restricted" and error.permanent
    assert "The stored token is kept" in str(error)


def test_a_sandbox_names_the_refresh_first() -> None:
    error = error_for("invalid_grant", "expired access/refresh token", Grant.REFRESH_TOKEN, is_sandbox=True)
    message = str(error)
    assert isinstance(error, TokenRevokedError)
    assert message.index("if the sandbox was refreshed") < message.index("Salesforce no longer accepts")


def test_other_answers_keep_their_class() -> None:
    assert type(error_for("invalid_client", "invalid client credentials", Grant.REFRESH_TOKEN)) is ClientRejectedError
    assert type(error_for("rate_limit_exceeded", "", Grant.JWT_BEARER)) is SalesforceUnreachableError
    assert type(error_for("temporarily_unavailable", "", Grant.REFRESH_TOKEN)) is SalesforceUnreachableError
    unknown = error_for("something_new", "never seen", Grant.REFRESH_TOKEN)
    assert type(unknown) is SalesforceRequestError and "The stored token, if any, was kept." in str(unknown)
    assert "Salesforce answered something_new: never seen." in str(unknown)


def test_every_row_says_where_it_comes_from_and_what_to_do() -> None:
    for rule in ERROR_TABLE:
        assert rule.source and rule.advice and rule.case, rule
