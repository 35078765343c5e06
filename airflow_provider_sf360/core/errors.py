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


class SalesforceRequestError(SF360Error):
    """Salesforce rejected a request for a reason not covered above; the message carries its answer."""

    reason = "request_rejected"
