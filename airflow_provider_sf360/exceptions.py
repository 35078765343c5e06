"""The provider's public exceptions, as Airflow tasks see them.

Every error the hook raises (``from airflow_provider_sf360.exceptions import TokenRevokedError``) is one of the
classes below. A *permanent* error (revoked token, identity mismatch, rejected client, bad fields, not set up...)
is raised as the class of the same name defined here, which is both the pure core's error
(``airflow_provider_sf360.core.errors``) and Airflow's ``AirflowFailException``: Airflow then fails the task
without retries, since only a person can fix it. ``SalesforceUnreachableError`` is transient and stays
retryable. ``for_airflow(error)`` turns a core error into the class Airflow should see.

To catch an error whether it came from the hook or from the core directly, catch the core class (or
``SF360Error``, the base of all of them).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core import errors as core_errors
from airflow_provider_sf360.core.errors import SalesforceUnreachableError, SF360Error

__all__ = [
    "ApiServerUnknownError",
    "AuthorizationDeniedError",
    "ClientRejectedError",
    "CredentialsInvalidError",
    "IdentityMismatchError",
    "NotSetUpError",
    "PermanentSF360Error",
    "RefreshAnswerLostError",
    "RefreshOutcomeUnknownError",
    "RenewalRefusedError",
    "SF360Error",
    "SalesforceRequestError",
    "SalesforceUnreachableError",
    "TokenRevokedError",
    "TokenStateUnreadableError",
    "TokensUnencryptedError",
    "UntrustedHostError",
    "for_airflow",
]


class PermanentSF360Error(SF360Error, AirflowFailException):
    """A permanent provider error with no more specific class below: the task fails without retries."""


class CredentialsInvalidError(core_errors.CredentialsInvalidError, AirflowFailException):
    """The connection's fields are incomplete or malformed (``problems`` lists each one); no retries."""


class UntrustedHostError(core_errors.UntrustedHostError, AirflowFailException):
    """A URL that would receive a token is not https or not a Salesforce host; no retries."""


class NotSetUpError(core_errors.NotSetUpError, AirflowFailException):
    """No OAuth token is stored for the connection: set it up first; no retries."""


class TokenRevokedError(core_errors.TokenRevokedError, AirflowFailException):
    """Salesforce refused the stored token (revoked, expired by policy, user deactivated); no retries."""


class IdentityMismatchError(core_errors.IdentityMismatchError, AirflowFailException):
    """The token belongs to another org or user than the connection names; no retries."""


class ClientRejectedError(core_errors.ClientRejectedError, AirflowFailException):
    """Salesforce refused the Connected App's credentials (consumer key, secret, certificate); no retries."""


class AuthorizationDeniedError(core_errors.AuthorizationDeniedError, AirflowFailException):
    """The user clicked Deny, or the authorization response was forged, stale or incomplete; no retries."""


class SalesforceRequestError(core_errors.SalesforceRequestError, AirflowFailException):
    """Salesforce rejected a request for a reason not covered by the other classes; no retries."""


class RefreshAnswerLostError(core_errors.RefreshAnswerLostError, TokenRevokedError):
    """Salesforce redeemed the refresh token but its answer never arrived: set up again; no retries."""


class RefreshOutcomeUnknownError(core_errors.RefreshOutcomeUnknownError, AirflowFailException):
    """Nobody can tell whether a lost refresh grant used the refresh token; no retries."""


class RenewalRefusedError(core_errors.RenewalRefusedError, AirflowFailException):
    """The api-server refused to renew the token for this task; no retries."""


class ApiServerUnknownError(core_errors.ApiServerUnknownError, AirflowFailException):
    """The task cannot reach the provider's API on the api-server (see ``[sf360] api_server_url``); no retries."""


class TokensUnencryptedError(core_errors.TokensUnencryptedError, AirflowFailException):
    """Airflow has no Fernet key, so the provider refuses to store tokens; no retries."""


class TokenStateUnreadableError(core_errors.TokenStateUnreadableError, AirflowFailException):
    """The stored token state is not what the provider writes (edited by hand, truncated...); no retries."""


AIRFLOW_CLASSES: dict[type[SF360Error], type[SF360Error]] = {
    SF360Error: PermanentSF360Error,
    core_errors.CredentialsInvalidError: CredentialsInvalidError,
    core_errors.UntrustedHostError: UntrustedHostError,
    core_errors.NotSetUpError: NotSetUpError,
    core_errors.TokenRevokedError: TokenRevokedError,
    core_errors.IdentityMismatchError: IdentityMismatchError,
    core_errors.ClientRejectedError: ClientRejectedError,
    core_errors.AuthorizationDeniedError: AuthorizationDeniedError,
    core_errors.SalesforceRequestError: SalesforceRequestError,
    core_errors.RefreshAnswerLostError: RefreshAnswerLostError,
    core_errors.RefreshOutcomeUnknownError: RefreshOutcomeUnknownError,
    core_errors.RenewalRefusedError: RenewalRefusedError,
    core_errors.TokensUnencryptedError: TokensUnencryptedError,
    core_errors.ApiServerUnknownError: ApiServerUnknownError,
    core_errors.TokenStateUnreadableError: TokenStateUnreadableError,
}
"""Each permanent core error class -> the class of the same name above, which Airflow does not retry."""


def for_airflow(error: SF360Error) -> SF360Error:
    """Return the error as Airflow should see it: permanent errors as their no-retry class, others unchanged.

    The returned error carries the same message and attributes (``problems``, ``conn_id``...). A core class
    without its own entry in ``AIRFLOW_CLASSES`` gets the entry of its nearest base class.

    :param error: an error raised by the provider's core.
    :return: ``error`` itself when it is transient or already marked, else a copy of the no-retry class.
    """
    if not error.permanent or isinstance(error, AirflowFailException):
        return error
    airflow_class = next(AIRFLOW_CLASSES[cls] for cls in type(error).__mro__ if cls in AIRFLOW_CLASSES)
    marked = airflow_class.__new__(airflow_class)
    marked.__dict__.update(error.__dict__)
    marked.args = error.args
    return marked
