"""The provider's exceptions, as DAG code catches them: the classes of ``core/errors.py``, one hierarchy.

``from airflow_provider_sf360.exceptions import TokenRevokedError`` is the very class the core raises. Every
*permanent* error (revoked token, identity mismatch, rejected client, an admin setting, bad fields, not set
up...) derives from :class:`PermanentError`, which importing this module makes an Airflow
``AirflowFailException`` too: Airflow then fails the task without retries, since only a person can fix it.
``SalesforceUnreachableError`` is transient and stays retryable.

Why here: Airflow recognises "do not retry" only by class, and the pure core may not import Airflow (importing
``airflow.sdk.exceptions`` loads all of Airflow). So the hook layer, which every Airflow process that uses the
provider imports, adds ``AirflowFailException`` as a base of ``PermanentError`` once, at import time. This is
the only place a core class learns of Airflow.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.errors import (
    AdminActionRequiredError,
    ApiServerWiringError,
    AuthorizationDeniedError,
    ClientRejectedError,
    CredentialsInvalidError,
    IdentityMismatchError,
    LockDirectoryError,
    LoginRestrictedError,
    NotSetUpError,
    PermanentError,
    RefreshAnswerLostError,
    RefreshOutcomeUnknownError,
    RenewalRefusedError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
    TokenStateUnreadableError,
    TokensUnencryptedError,
    UntrustedHostError,
)

__all__ = [
    "AdminActionRequiredError",
    "ApiServerWiringError",
    "AuthorizationDeniedError",
    "ClientRejectedError",
    "CredentialsInvalidError",
    "IdentityMismatchError",
    "LockDirectoryError",
    "LoginRestrictedError",
    "NotSetUpError",
    "PermanentError",
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
]

PermanentSF360Error = PermanentError  # the name earlier releases exported


def _fail_permanent_errors_without_retries() -> None:
    """Make :class:`PermanentError` (and so every permanent provider error) an ``AirflowFailException``."""
    if not issubclass(PermanentError, AirflowFailException):
        PermanentError.__bases__ = (SF360Error, AirflowFailException)


_fail_permanent_errors_without_retries()
