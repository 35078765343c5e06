"""The errors a user can meet, each saying which case it is and the one thing to do. One hierarchy.

``SF360Error`` is the base. ``PermanentError`` subclasses are never retried: only a person can fix them; the
hook layer (``exceptions.py``) makes ``PermanentError`` an Airflow ``AirflowFailException`` too, so Airflow
fails the task without retries. ``SalesforceUnreachableError`` is the one transient class.

Every error pickles and unpickles to the same class, message and attributes (Airflow sends exceptions between
processes). Pure module, no Airflow import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class SF360Error(Exception):
    """Base class of every error raised by this provider.

    :param message: what happened and the one thing to do (never a secret).
    """

    reason: ClassVar[str] = "error"
    # True when a refresh grant may have consumed the token and nobody knows yet (the token must be checked
    # before it is presented again).
    grant_unresolved: bool = False

    @property
    def permanent(self) -> bool:
        """Whether only a person can fix it (Airflow does not retry it)."""
        return isinstance(self, PermanentError)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args, self.__dict__ or None)


class PermanentError(SF360Error):
    """A failure only a person can fix; never retried (an ``AirflowFailException`` in Airflow processes)."""


class SalesforceUnreachableError(SF360Error):
    """Salesforce did not answer usefully (network error, 5xx, 429, garbled body) after bounded retries."""

    reason = "unreachable"


class CredentialsInvalidError(PermanentError, ValueError):
    """The connection's fields are incomplete or malformed; ``problems`` lists each one, naming its field.

    :param conn_id: the connection's id.
    :param problems: one line per problem: the field, what is wrong, how to fix it.
    """

    reason = "invalid_credentials"

    def __init__(self, conn_id: str, problems: Sequence[str]) -> None:
        self.conn_id = conn_id
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Connection {conn_id!r} cannot be used: {len(self.problems)} field(s) need fixing "
            f"(edit the connection in Admin > Connections):\n{listed}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.conn_id, self.problems), self.__dict__)


class UntrustedHostError(PermanentError):
    """A URL that would receive a secret is not https, not a Salesforce login or My Domain host, or has a path."""

    reason = "untrusted_host"


class NotSetUpError(PermanentError):
    """No OAuth token is stored for the connection."""

    reason = "not_set_up"


class TokenRevokedError(PermanentError):
    """The stored refresh token can never work again: revoked, expired by policy, user deactivated, app deleted."""

    reason = "revoked"


class RefreshAnswerLostError(TokenRevokedError):
    """Salesforce redeemed (and, under rotation, replaced) the refresh token, but its answer never arrived."""

    reason = "answer_lost"


class IdentityMismatchError(PermanentError):
    """The token belongs to another org or user than the connection names."""

    reason = "identity_mismatch"


class ClientRejectedError(PermanentError):
    """Salesforce refused the app's credentials (consumer key, consumer secret, certificate)."""

    reason = "client_rejected"


class AdminActionRequiredError(PermanentError):
    """A setting in Salesforce stops this grant; an admin changes it and the same credential works again.

    The stored token is kept. ``case`` names the setting (see ``core/oauth_errors.py``).

    :param message: what happened, and the Setup page to change.
    :param case: the short name of the setting, e.g. ``"not_pre_authorized"``.
    """

    reason = "admin_action_required"

    def __init__(self, message: str, case: str = "setting") -> None:
        super().__init__(message)
        self.case = case

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.case), self.__dict__)


class LoginRestrictedError(AdminActionRequiredError):
    """The user's login IP ranges or login hours, or the app's IP rules, refused the request (token kept)."""

    reason = "login_restricted"


class AuthorizationDeniedError(PermanentError):
    """The user clicked Deny, or the authorization response was forged, stale or incomplete."""

    reason = "authorization_denied"


class RefreshOutcomeUnknownError(PermanentError):
    """A refresh grant's answer was lost and nobody can tell whether Salesforce used the refresh token.

    Presenting the token again could revoke the whole token family under rotation, so the provider stops and
    says how to resolve it (add the Consumer Secret so it can check by introspection, or set up again).
    """

    reason = "outcome_unknown"
    grant_unresolved = True


class RenewalRefusedError(PermanentError):
    """The api-server refused to renew the token for this task (the proof did not match the stored token)."""

    reason = "renewal_refused"


class ApiServerWiringError(PermanentError):
    """A task cannot reach the provider's API on the api-server: no address is configured, or the configured
    server has no sf360 routes (an execution-only api-server, one without the provider) or answers something
    that is not the provider's JSON. Only a change of configuration fixes it, so it is never retried."""

    reason = "api_server_wiring"


class TokensUnencryptedError(PermanentError):
    """Airflow has no Fernet key, so tokens would be stored in plain text; the provider refuses to store them."""

    reason = "unencrypted"


class SalesforceRequestError(PermanentError):
    """Salesforce rejected a request for a reason not covered above; the message carries its answer."""

    reason = "request_rejected"


class TokenStateUnreadableError(PermanentError):
    """The stored token state is not what the provider writes (edited by hand, truncated, from another tool)."""

    reason = "state_unreadable"


class LockDirectoryError(PermanentError):
    """The host's lock directory is not safe to use (another owner, a symlink, or open to other users)."""

    reason = "unsafe_lock_directory"


def error_class_for(reason: str) -> type[SF360Error]:
    """The provider error class whose ``reason`` is ``reason`` (for errors that crossed a process boundary).

    :param reason: an error's ``reason``; an unknown one gives :class:`PermanentError`.
    """
    pending: list[type[SF360Error]] = [SF360Error]
    while pending:
        cls = pending.pop()
        if cls.reason == reason and cls is not SF360Error:
            return cls
        pending.extend(cls.__subclasses__())
    return PermanentError


def rebuild_error(reason: str, message: str) -> SF360Error:
    """The provider error a remote component reported (its ``reason`` and message), as a local exception.

    :param reason: the error's ``reason`` as sent.
    :param message: its message as sent.
    """
    error_class = error_class_for(reason)
    if error_class is CredentialsInvalidError:
        return PermanentError(message)  # its problems list did not travel; the message names every field
    return error_class(message)
