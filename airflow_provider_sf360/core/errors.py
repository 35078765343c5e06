"""The errors a user can meet, each saying what happened and how to fix it.

Permanent errors (``permanent = True``) are never retried: only a person can fix them.
Pure module, no Airflow import; the hook layer adds Airflow's no-retry marker.
"""

from __future__ import annotations

from collections.abc import Sequence


class SF360Error(Exception):
    """Base class of every error raised by this provider."""

    reason = "error"
    permanent = True
    # True when a refresh grant may have consumed the token and nobody knows yet (the token must be checked
    # before it is presented again).
    grant_unresolved = False


class CredentialsInvalidError(SF360Error, ValueError):
    """The connection's fields are incomplete or malformed; ``problems`` lists each one."""

    reason = "invalid_credentials"

    def __init__(self, conn_id: str, problems: Sequence[str]) -> None:
        self.conn_id = conn_id
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Connection {conn_id!r} cannot be used: {len(self.problems)} field(s) need fixing "
            f"(edit the connection in Admin > Connections):\n{listed}"
        )


class UntrustedHostError(SF360Error):
    """A URL that would receive a token is not https or not a Salesforce host."""

    reason = "untrusted_host"


class NotSetUpError(SF360Error):
    """No OAuth token is stored for the connection."""

    reason = "not_set_up"


class TokenRevokedError(SF360Error):
    """Salesforce refused the stored token: revoked, expired by policy, or the user was deactivated."""

    reason = "revoked"


class IdentityMismatchError(SF360Error):
    """The token belongs to another org or user than the connection names."""

    reason = "identity_mismatch"


class ClientRejectedError(SF360Error):
    """Salesforce refused the Connected App's credentials (consumer key, secret, certificate)."""

    reason = "client_rejected"


class AuthorizationDeniedError(SF360Error):
    """The user clicked Deny, or the authorization response was forged, stale or incomplete."""

    reason = "authorization_denied"


class SalesforceUnreachableError(SF360Error):
    """Salesforce did not answer usefully (network error, 5xx, 429, garbled body) after bounded retries."""

    reason = "unreachable"
    permanent = False


class RefreshAnswerLostError(TokenRevokedError):
    """Salesforce redeemed (and, under rotation, replaced) the refresh token, but its answer never arrived."""

    reason = "answer_lost"


class RefreshOutcomeUnknownError(SF360Error):
    """A refresh grant's answer was lost and nobody can tell whether Salesforce used the refresh token.

    Presenting the token again could revoke the whole token family under rotation, so the provider stops and
    says how to resolve it (add the Consumer Secret so it can check by introspection, or set up again).
    """

    reason = "outcome_unknown"
    grant_unresolved = True


class RenewalRefusedError(SF360Error):
    """The api-server refused to renew the token for this task (the proof did not match the stored token)."""

    reason = "renewal_refused"


class ApiServerUnknownError(SF360Error):
    """A task cannot reach the provider's API on the api-server: no address is configured, or the configured
    server has no sf360 routes (an execution-only api-server, one without the provider) or answers something
    that is not the provider's JSON. Only a change of configuration fixes it, so it is never retried."""

    reason = "api_server_unknown"


class TokensUnencryptedError(SF360Error):
    """Airflow has no Fernet key, so tokens would be stored in plain text; the provider refuses to store them."""

    reason = "unencrypted"


class SalesforceRequestError(SF360Error):
    """Salesforce rejected a request for a reason not covered above; the message carries its answer."""

    reason = "request_rejected"


class TokenStateUnreadableError(SF360Error):
    """The stored token state is not what the provider writes (edited by hand, truncated, from another tool)."""

    reason = "state_unreadable"


def error_class_for(reason: str) -> type[SF360Error]:
    """The provider error class whose ``reason`` is ``reason`` (for errors that crossed a process boundary)."""
    pending: list[type[SF360Error]] = [SF360Error]
    while pending:
        cls = pending.pop()
        if cls.reason == reason:
            return cls
        pending.extend(cls.__subclasses__())
    return SF360Error


def rebuild_error(reason: str, message: str) -> SF360Error:
    """The provider error a remote component reported (``reason`` and message), as a local exception."""
    error_class = error_class_for(reason)
    error = error_class.__new__(error_class)
    Exception.__init__(error, message)
    return error
