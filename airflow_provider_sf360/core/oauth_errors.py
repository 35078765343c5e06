"""Salesforce's OAuth error answers and what each means for the stored credential: one table.

A token endpoint error (HTTP 400, ``{"error", "error_description"}``, ``salesforce.md`` section 5) has one of
four meanings:

- ``dead``: the stored refresh token can never work again (revoked, expired by policy, user deactivated, app
  deleted). Only this drops a stored token, and only for a refresh token grant: JWT bearer and client
  credentials hold nothing to revoke, so the same answers mean an admin must act.
- ``admin``: an admin changes a setting (pre-authorization, login IP ranges or hours, scopes, secret or PKCE
  requirement, flow switches, run-as user) and the same credential works again, with nothing set up anew.
- ``client``: the app's credentials are wrong (consumer key, consumer secret, certificate).
- ``transient``: rate limits, maintenance, server errors: retried with backoff.

Anything the table does not know is a permanent request error carrying Salesforce's own words, and the token is
kept. Sources per row; fixtures of the answers in ``tests/fixtures/salesforce_answers/errors.json``. Pure
module, no Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from airflow_provider_sf360.core import setup_pages
from airflow_provider_sf360.core.errors import (
    AdminActionRequiredError,
    ClientRejectedError,
    LoginRestrictedError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.grants import Grant

MACHINE_GRANTS = frozenset({Grant.JWT_BEARER, Grant.CLIENT_CREDENTIALS})
SANDBOX_REFRESHED = (
    "This is a sandbox connection: if the sandbox was refreshed, it now has a new Org ID (enter it from "
    f"{setup_pages.COMPANY_INFORMATION}); a user copied from production keeps its User ID, while a user that "
    "existed only in the sandbox is gone and must be recreated (then enter its new User ID). Then set up the "
    "OAuth token again."
)


class Meaning(str, Enum):
    """What an error answer means for the stored credential."""

    DEAD = "dead"
    ADMIN = "admin"
    CLIENT = "client"
    TRANSIENT = "transient"
    REQUEST = "request"


@dataclass(frozen=True)
class ErrorRule:
    """One row: the answers it matches, their meaning, and the one thing to do.

    ``description`` is a lower-case part of ``error_description`` ("" matches any); ``grants`` limits the row
    to some grants (None: all); ``machine`` overrides the meaning for JWT bearer and client credentials;
    ``without_secret`` limits it to requests that carried no client secret (Salesforce answers a missing secret
    like a wrong one).
    """

    errors: tuple[str, ...]
    description: str
    meaning: Meaning
    case: str
    advice: str
    source: str
    grants: frozenset[Grant] | None = None
    machine: Meaning | None = None
    without_secret: bool = False  # only when the request carried no client secret

    def matches(self, error: str, description: str, grant: Grant, secret_sent: bool = True) -> bool:
        """Whether the answer ``error``/``description`` to ``grant`` is this row's."""
        return (
            error in self.errors
            and self.description in description.lower()
            and (self.grants is None or grant in self.grants)
            and not (self.without_secret and secret_sent)
        )

    def meaning_for(self, grant: Grant) -> Meaning:
        """The row's meaning for ``grant``: only a refresh grant has a stored token that can be dead; for the
        others (machine grants, a code being exchanged) the same answer means an admin must act."""
        if self.meaning is Meaning.DEAD and grant is not Grant.REFRESH_TOKEN:
            return self.machine or Meaning.ADMIN
        return self.meaning


_USER_INACTIVE = (
    f"The Salesforce user is deactivated, frozen or locked. Reactivate or unfreeze it ({setup_pages.USERS})"
)
ERROR_TABLE: tuple[ErrorRule, ...] = (
    ErrorRule(
        ("invalid_grant",), "ip restricted", Meaning.ADMIN, "login_restricted",
        "The Salesforce user's login IP ranges or login hours, or the app's IP rules, refused this request from "
        "this worker's network address. The stored token is kept and works again, with nothing set up anew, once "
        f"an admin allows it: add the workers' egress IP addresses to {setup_pages.LOGIN_IP_RANGES_AND_HOURS} "
        f"(or widen the hours), or relax {setup_pages.IP_RELAXATION}.",
        "salesforce.md 5 (forceworkbench#772, sfdx-actions/setup-sfdx#17)",
    ),
    ErrorRule(
        ("invalid_grant",), "login hours", Meaning.ADMIN, "login_restricted",
        "The Salesforce user's login hours do not allow a sign-in now. The stored token is kept and works again "
        f"within the hours: widen them in {setup_pages.LOGIN_IP_RANGES_AND_HOURS}.",
        "salesforce.md 5",
    ),
    ErrorRule(
        ("invalid_grant",), "hasn't approved", Meaning.ADMIN, "not_pre_authorized",
        f"The user has not approved the app and is not pre-authorized for it: {setup_pages.PERMITTED_USERS}.",
        "salesforce.md 2.3 and 5",
    ),
    ErrorRule(
        ("invalid_grant",), "audience", Meaning.ADMIN, "jwt_audience",
        "Salesforce refused the JWT audience. The provider signs https://login.salesforce.com for production "
        "and https://test.salesforce.com for sandboxes ('Use salesforce.com Sandbox'), whatever Login URL it "
        "posts to; for an Experience Cloud site set the connection's JWT Audience to the site's URL.",
        "salesforce.md 2.3 (forrest#302, simple-salesforce PR #711, restforce PR #886)",
        grants=frozenset({Grant.JWT_BEARER}),
    ),
    ErrorRule(
        ("invalid_grant",), "expired access/refresh token", Meaning.DEAD, "revoked",
        "Salesforce no longer accepts this refresh token: an admin or the user revoked it "
        f"({setup_pages.OAUTH_USAGE}), the refresh token policy ended it ({setup_pages.REFRESH_TOKEN_POLICY}: "
        "'expire after' or 'expire if unused for'; the scheduled connectivity check keeps an idle token in use), "
        "a sixth approval of the same user and app evicted it, or a rotated token was presented twice. Set up "
        "the OAuth token again.",
        "salesforce.md 5, 6 and 7",
        machine=Meaning.ADMIN,
    ),
    ErrorRule(
        ("invalid_grant",), "authentication failure", Meaning.DEAD, "user_inactive",
        f"{_USER_INACTIVE}, then set up the OAuth token again (its refresh token ended with the user's access).",
        "salesforce.md 5",
        machine=Meaning.ADMIN,
    ),
    ErrorRule(
        ("inactive_user",), "", Meaning.DEAD, "user_inactive",
        f"{_USER_INACTIVE}, then set up the OAuth token again.",
        "salesforce.md 5 (older docs)",
        machine=Meaning.ADMIN,
    ),
    ErrorRule(
        ("inactive_org",), "", Meaning.ADMIN, "org_inactive",
        "The Salesforce org is locked, closed or suspended (a trial ended, a sandbox was deleted); the token is "
        "kept and works again once the org is active. Otherwise use an active org's IDs.",
        "salesforce.md 5 (older docs); tests/fixtures/salesforce_answers/errors.json",
    ),
    ErrorRule(
        ("invalid_grant",), "token validity expired", Meaning.ADMIN, "clock_skew",
        "The JWT assertion had expired when Salesforce read it: this worker's clock is off (`sf360 doctor` "
        "measures the skew against Salesforce's clock); keep it in sync (NTP).",
        "salesforce.md 2.3 and 5",
        grants=frozenset({Grant.JWT_BEARER}),
    ),
    ErrorRule(
        ("invalid_grant",), "token validity expired", Meaning.DEAD, "revoked",
        "Salesforce says the refresh token's validity expired (the app's refresh token policy). Set up the OAuth "
        f"token again, and check {setup_pages.REFRESH_TOKEN_POLICY}.",
        "salesforce.md 5 (airbytehq/terraform-provider-airbyte#32)",
        grants=frozenset({Grant.REFRESH_TOKEN}),
    ),
    ErrorRule(
        ("invalid_grant",), "invalid assertion", Meaning.CLIENT, "certificate",
        "Salesforce could not verify the JWT with the certificate uploaded to the app: upload the certificate of "
        f"the connection's Private Key ({setup_pages.JWT_CERTIFICATE}; `sf360 keygen` makes a matching pair) "
        "and check the Consumer Key and Salesforce Username.",
        "docs/emulator.md (the emulator's answer; not in salesforce.md 5)",
        grants=frozenset({Grant.JWT_BEARER}),
    ),
    ErrorRule(
        ("invalid_grant",), "not supported on this domain", Meaning.ADMIN, "my_domain_required",
        "The client credentials flow only works on the org's My Domain host: set the Login URL to "
        "https://<MyDomain>.my.salesforce.com (Setup > My Domain).",
        "salesforce.md 2.4",
    ),
    ErrorRule(
        ("invalid_grant",), "client credentials user", Meaning.ADMIN, "run_as_user",
        f"The app has no Run As user for the client credentials flow: {setup_pages.CLIENT_CREDENTIALS}.",
        "salesforce.md 2.4",
    ),
    ErrorRule(
        ("invalid_grant",), "authorization code", Meaning.REQUEST, "code_invalid",
        "The authorization code was already used or is too old. Start the setup again.",
        "salesforce.md 2.1",
        grants=frozenset({Grant.AUTHORIZATION_CODE}),
    ),
    ErrorRule(
        ("invalid_client_id",), "", Meaning.DEAD, "app_gone",
        "Salesforce no longer knows the app this refresh token was issued to: it was deleted, or its consumer "
        f"key was regenerated ({setup_pages.CONSUMER_KEY_AND_SECRET}). Enter the app's current Consumer Key and "
        "set up the OAuth token again.",
        "salesforce.md 5",
        grants=frozenset({Grant.REFRESH_TOKEN}),
    ),
    ErrorRule(
        ("invalid_client",), "", Meaning.ADMIN, "secret_required",
        "The app requires the Consumer Secret for this flow and the connection has none: enter it in the "
        f"connection, or switch off {setup_pages.REQUIRE_SECRET_REFRESH} (for the web server flow: "
        f"{setup_pages.REQUIRE_SECRET_WEB_SERVER}).",
        "SalesforceMobileSDK-Android#2468, -iOS#3626/#3633 (a missing secret is answered like a wrong one)",
        grants=frozenset({Grant.AUTHORIZATION_CODE, Grant.REFRESH_TOKEN}),
        without_secret=True,
    ),
    ErrorRule(
        ("invalid_client_id", "invalid_client", "invalid_client_credentials"), "", Meaning.CLIENT, "client",
        "Check the connection's Consumer Key and Consumer Secret against the app "
        f"({setup_pages.CONSUMER_KEY_AND_SECRET}).",
        "salesforce.md 5",
    ),
    ErrorRule(
        ("invalid_request",), "code verifier", Meaning.ADMIN, "pkce",
        f"The PKCE check failed; start the setup again. The app's setting: {setup_pages.PKCE}.",
        "salesforce.md 2.1 (PKCE errors)",
    ),
    ErrorRule(
        ("invalid_grant",), "code verifier", Meaning.ADMIN, "pkce",
        f"The PKCE check failed; start the setup again. The app's setting: {setup_pages.PKCE}.",
        "salesforce.md 2.1 (PKCE errors)",
    ),
    ErrorRule(
        ("unsupported_grant_type", "unauthorized_client"), "", Meaning.ADMIN, "flow_disabled",
        f"The app does not allow this OAuth flow: enable it in {setup_pages.FLOW_ENABLEMENT}.",
        "salesforce.md 5; RFC 6749 section 5.2",
    ),
    ErrorRule(
        ("invalid_scope",), "", Meaning.ADMIN, "scopes",
        "The app does not allow the scopes the provider asks for (api, refresh_token): add them in "
        f"{setup_pages.SCOPES}.",
        "RFC 6749 section 5.2",
    ),
    ErrorRule(
        ("invalid_app_access",), "", Meaning.ADMIN, "not_pre_authorized",
        f"The user may not use the app: {setup_pages.PERMITTED_USERS}.",
        "help xcloud.remoteaccess_oauth_flow_errors.htm",
    ),
    ErrorRule(
        ("rate_limit_exceeded",), "", Meaning.TRANSIENT, "rate_limited",
        "Too many logins for this user (Salesforce allows about 3,600 an hour); the task can be retried later.",
        "salesforce.md 5 (older docs) and 7",
    ),
    ErrorRule(
        ("invalid_grant",), "login rate exceeded", Meaning.TRANSIENT, "rate_limited",
        "Too many logins for this user (Salesforce allows about 3,600 an hour); the task can be retried later.",
        "salesforce.md 7",
    ),
    ErrorRule(
        ("temporarily_unavailable", "server_error"), "", Meaning.TRANSIENT, "maintenance",
        "Salesforce is temporarily unavailable (maintenance or an incident); the task can be retried later.",
        "RFC 6749 section 4.1.2.1",
    ),
)


def rule_for(error: str, description: str, grant: Grant, secret_sent: bool = True) -> ErrorRule | None:
    """The first table row matching the answer, or None when the table does not know it.

    :param error: the answer's ``error``.
    :param description: its ``error_description``.
    :param grant: the grant it answers.
    :param secret_sent: whether the request carried a client secret.
    """
    return next((rule for rule in ERROR_TABLE if rule.matches(error, description, grant, secret_sent)), None)


def error_for(
    error: str, description: str, grant: Grant, *, is_sandbox: bool = False, secret_sent: bool = True
) -> SF360Error:
    """The provider error for a token endpoint error answer (``error_description`` quoted in the message).

    :param error: the answer's ``error`` (already shortened, control characters removed).
    :param description: its ``error_description`` (likewise).
    :param grant: the grant it answers.
    :param is_sandbox: the connection is a sandbox's (a dead token then names the sandbox refresh first).
    :param secret_sent: whether the request carried a client secret.
    """
    said = f"Salesforce answered {error}: {description or 'no description'}."
    rule = rule_for(error, description, grant, secret_sent)
    if rule is None:
        return SalesforceRequestError(f"{said} The stored token, if any, was kept.")
    meaning = rule.meaning_for(grant)
    message = f"{said} {rule.advice}"
    if meaning is Meaning.DEAD:
        return TokenRevokedError(f"{said} {SANDBOX_REFRESHED} {rule.advice}" if is_sandbox else message)
    if meaning is Meaning.ADMIN:
        if rule.case == "login_restricted":
            return LoginRestrictedError(message, rule.case)
        if rule.meaning is Meaning.DEAD and grant in MACHINE_GRANTS:  # nothing to revoke, nothing to set up again
            message = f"{said} {_machine_advice(rule)}"
        return AdminActionRequiredError(message, rule.case)
    if meaning is Meaning.CLIENT:
        return ClientRejectedError(message)
    if meaning is Meaning.TRANSIENT:
        return SalesforceUnreachableError(message)
    return SalesforceRequestError(message)


def _machine_advice(rule: ErrorRule) -> str:
    """What a dead-token answer means for a flow that holds no token: the user or org must be made usable."""
    if rule.case == "revoked":
        return ("The app's access for this user was revoked or its policy ended it; an admin restores it "
                f"({setup_pages.PERMITTED_USERS}). No setup is needed afterwards.")
    return f"{_USER_INACTIVE}; no setup is needed afterwards."
