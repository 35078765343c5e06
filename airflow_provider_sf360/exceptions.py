"""The provider's public exceptions, and the Airflow no-retry marker for permanent ones.

Users catch the classes below (``from airflow_provider_sf360.exceptions import TokenRevokedError``).
When one escapes a task, a permanent error (revoked token, identity mismatch, rejected client, bad
fields, not set up) is raised as a subclass that is also Airflow's ``AirflowFailException``, so Airflow
does not retry a task only a person can fix; ``SalesforceUnreachableError`` stays retryable.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.errors import (
    AuthorizationDeniedError,
    ClientRejectedError,
    CredentialsInvalidError,
    IdentityMismatchError,
    NotSetUpError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
    UntrustedHostError,
)

__all__ = [
    "AuthorizationDeniedError",
    "ClientRejectedError",
    "CredentialsInvalidError",
    "IdentityMismatchError",
    "NotSetUpError",
    "SF360Error",
    "SalesforceRequestError",
    "SalesforceUnreachableError",
    "TokenRevokedError",
    "UntrustedHostError",
    "for_airflow",
]


_no_retry_classes: dict[type[SF360Error], type[SF360Error]] = {}


def _no_retry_class(error_class: type[SF360Error]) -> type[SF360Error]:
    if error_class not in _no_retry_classes:
        marked = type(error_class.__name__, (error_class, AirflowFailException), {"__module__": __name__})
        _no_retry_classes[error_class] = marked
    return _no_retry_classes[error_class]


def for_airflow(error: SF360Error) -> SF360Error:
    """The same error, marked so that Airflow fails the task without retries when it is permanent."""
    if not error.permanent or isinstance(error, AirflowFailException):
        return error
    marked_class = _no_retry_class(type(error))
    marked = marked_class.__new__(marked_class)
    marked.__dict__.update(error.__dict__)
    marked.args = error.args
    return marked
