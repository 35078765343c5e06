"""The product's four actions (set up, reset, test access, delete) for one credential.

Pure logic over injected parts: the :class:`TokenMinter` (tokens and the network), an :class:`ActionStore`
(where the token and the action records live), the :class:`CredentialLock` and a :class:`Renewer` (how a
token is renewed where this code runs; see ``core/renewal.py``). The hook, the operators, the UI page and the
CLI all call these methods, so every behaviour is written once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from airflow_provider_sf360.core.credentials import DEFAULT_CALLBACK_URL, AuthFlow, SF360Credentials
from airflow_provider_sf360.core.errors import (
    AuthorizationDeniedError,
    IdentityMismatchError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.renewal import (
    CredentialLock,
    Renewer,
    TokenMinter,
    TokenStore,
    issued_for,
    not_set_up,
)
from airflow_provider_sf360.core.token_state import TokenResponse, TokenState, TokenStatus, identity_from_url

if TYPE_CHECKING:  # the client imports requests (~36 ms): loaded only when a token is actually requested
    from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient

PENDING_AUTHORIZATION_SECONDS = 600
EDITED_SINCE_SETUP = (
    "The stored OAuth token was set up for other values of the connection's Org ID, User ID, Consumer Key or Login "
    "URL, which were edited since. Set up the OAuth token again (the old token is revoked then)."
)


@dataclass(frozen=True)
class PendingAuthorization:
    """What the web server flow keeps server-side between its two halves (never put in a URL)."""

    code_verifier: str = field(repr=False)
    redirect_uri: str
    state_key: str
    expires_at: float
    requested_by: str | None = None


class ActionStore(TokenStore, Protocol):
    """The token state plus what the actions keep: pending web-flow verifiers and the last test result."""

    @property
    def state_key(self) -> str:
        """The name the token state is kept under."""

    def save_pending(self, state_param: str, pending: PendingAuthorization) -> None: ...
    def pop_pending(self, state_param: str) -> PendingAuthorization | None: ...
    def load_test_record(self) -> dict[str, Any] | None: ...
    def save_test_record(self, record: dict[str, Any]) -> None: ...
    def clear_test_record(self) -> None: ...
    def forget_pending(self) -> None: ...


@dataclass(frozen=True)
class ActionResult:
    """Outcome of one action: plain, JSON-serialisable, never holding a secret."""

    action: str
    conn_id: str
    ok: bool
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "conn_id": self.conn_id,
            "ok": self.ok,
            "status": self.status,
            "message": self.message,
            **self.details,
        }


def status_summary(
    credentials: SF360Credentials, state: TokenState | None, last_test: dict[str, Any] | None, now: float
) -> dict[str, Any]:
    """The non-secret status of one connection (pages, CLI): its fields, the token state and the last test.

    :param credentials: the connection's credentials.
    :param state: its stored token state, if any.
    :param last_test: the last access test's record, if any.
    :param now: epoch seconds (an active token past its expiry reads "expired").
    """
    summary: dict[str, Any] = {"conn_id": credentials.conn_id, **credentials.describe()}
    if state is None:
        summary["status"] = TokenStatus.NOT_SET_UP.value
    else:
        summary.update(state.describe())
        if not issued_for(credentials, state):  # fields edited since: the token is never used for them
            summary["status"] = TokenStatus.NOT_SET_UP.value
            summary["status_detail"] = EDITED_SINCE_SETUP
        elif state.status is TokenStatus.ACTIVE and state.seconds_left(now) <= 0:
            summary["status"] = TokenStatus.EXPIRED.value
    summary["last_test"] = last_test
    return summary


class CredentialLifecycle:
    """The four actions for one connection's credentials, and the tokens API clients use.

    :param minter: token logic for the connection's credentials.
    :param store: where the token state and the action records live.
    :param lock: the credential lock of the place this runs in.
    :param renewer: how a token that cannot be used as it is gets replaced here.
    :param auto_setup: obtain a first token when none is stored (default: the flows that need no person).
    :param keep_alive_after: an access test redeems a refresh token unused for longer than this many seconds, so
        that an app's "expire if unused" refresh token policy never ends it (None: never).
    """

    def __init__(
        self,
        minter: TokenMinter,
        store: ActionStore,
        lock: CredentialLock,
        renewer: Renewer,
        *,
        auto_setup: bool,
        keep_alive_after: float | None = None,
    ) -> None:
        self.minter = minter
        self.credentials: SF360Credentials = minter.credentials
        self.client: SalesforceOAuthClient = minter.client
        self.store = store
        self.lock = lock
        self.renewer = renewer
        self.auto_setup = auto_setup
        self.keep_alive_after = keep_alive_after

    @property
    def clock(self) -> Callable[[], float]:
        return self.minter.clock

    # ================================================================ tokens for API calls
    def current_token(self) -> TokenState:
        """A stored token that is active and not near its end; renewed (once, under the lock) if needed."""
        if (usable := self.minter.usable(self.store.load())) is not None:
            return usable
        return self.renewer.renew(None)

    @property
    def state_key(self) -> str:
        """The name the token state is kept under (a connection's own key, or the one it shares)."""
        return self.store.state_key

    def stored_state(self) -> TokenState | None:
        """The stored token state as it is (no renewal, no Salesforce call)."""
        return self.store.load()

    def renew(self, stale_access_token: str | None) -> TokenState:
        """Replace a token Salesforce refused (``stale_access_token``) or one near its end."""
        return self.renewer.renew(stale_access_token)

    def token_source(self) -> CachedTokenSource:
        """Tokens for one API client: kept in memory while valid, renewed through the store when not."""
        return CachedTokenSource(self)

    # ================================================================ set up
    def authorization_url(
        self, redirect_uri: str | None = None, state: str | None = None, requested_by: str | None = None
    ) -> str:
        """First half of the web server flow: where to send the person; the PKCE verifier stays stored."""
        redirect = redirect_uri or self.credentials.callback_url or DEFAULT_CALLBACK_URL
        state_param = state or secrets.token_urlsafe(32)
        url, verifier = self.client.authorization_request(redirect, state_param)
        pending = PendingAuthorization(
            code_verifier=verifier,
            redirect_uri=redirect,
            state_key=self.credentials.state_key,
            expires_at=self.clock() + PENDING_AUTHORIZATION_SECONDS,
            requested_by=requested_by,
        )
        self.store.save_pending(state_param, pending)
        return url

    def complete_authorization(self, authorization_response: str, set_up_by: str | None = None) -> ActionResult:
        """Second half: check ``state``, redeem the code with the stored verifier, verify identity, store."""
        query = parse_qs(urlsplit(authorization_response).query)
        first = {key: values[0] for key, values in query.items() if values}
        if "error" in first:
            raise AuthorizationDeniedError(
                f"Salesforce did not authorize the app: {first['error']} "
                f"({first.get('error_description', 'the user denied access')}). Nothing was changed; "
                "set up again and click Allow."
            )
        state_param, code = first.get("state"), first.get("code")
        if not state_param or not code:
            raise AuthorizationDeniedError(
                "The authorization response has no 'code' and 'state'; paste the whole URL Salesforce "
                "redirected to."
            )
        pending = self.store.pop_pending(state_param)
        if pending is None or pending.expires_at < self.clock():
            raise AuthorizationDeniedError(
                "The authorization response's state is unknown, already used or older than 10 minutes; "
                "start the setup again."
            )
        if pending.state_key != self.credentials.state_key:
            raise AuthorizationDeniedError(
                "The authorization response was started for another connection; start the setup again."
            )
        response = self.minter.exchange_code(code, pending.code_verifier, pending.redirect_uri)
        self.minter.verify_identity(response)  # before taking the lock; revokes the token if it is someone else's
        with self.lock.exclusive() as locked:
            previous = locked.load()
            state = self._store_setup(locked, response, previous, set_up_by or pending.requested_by)
        return self._report_setup(previous, state)

    def setup(self, authorization_response: str | None = None, set_up_by: str | None = None) -> ActionResult:
        """Obtain a token by the connection's flow, verify its identity, store it and report."""
        if self.credentials.auth_flow is AuthFlow.AUTHORIZATION_CODE:
            if authorization_response:
                return self.complete_authorization(authorization_response, set_up_by)
            url = self.authorization_url(requested_by=set_up_by)
            return self._result(
                "setup",
                False,
                "authorization_required",
                "Open the authorization URL, sign in as the Salesforce user the connection names and click "
                "Allow; then complete the setup with the URL Salesforce redirects to.",
                authorize_url=url,
            )
        with self.lock.exclusive() as locked:
            previous = locked.load()
            reusable = previous if previous and self.minter.issued_for_these_fields(previous) else None
            response = self.minter.grant(reusable, on_sending=self.store.save)
            state = self._store_setup(locked, response, previous, set_up_by)
        return self._report_setup(previous, state)

    def _store_setup(
        self, locked: TokenStore, response: TokenResponse, previous: TokenState | None, set_up_by: str | None
    ) -> TokenState:
        """Check the new token's identity (revoking it if it is someone else's) and store it."""
        state = self.minter.state_from(response, previous=None, set_up_by=set_up_by)  # checks identity first
        if previous is not None:  # a new sign-in keeps the connections it was shared with
            state = replace(state, generation=previous.generation + 1, shared_with=previous.shared_with)
        locked.save(state)
        return state

    def _report_setup(self, previous: TokenState | None, state: TokenState) -> ActionResult:
        revoked_previous = False
        if previous and previous.refresh_token and previous.refresh_token != state.refresh_token:
            revoked_previous = self.minter.revoke_quietly(previous.refresh_token, previous.instance_url)
        self.store.clear_test_record()
        return self._result(
            "setup",
            True,
            state.status.value,
            f"The OAuth token of connection {self.credentials.conn_id!r} is set up for org {state.org_id}, "
            f"user {state.user_id}.",
            previous_token_revoked=revoked_previous,
            token=state.describe(),
        )

    # ================================================================ reset and delete
    def reset(self, setup_again: bool = False, set_up_by: str | None = None) -> ActionResult:
        """Revoke the token at Salesforce and forget it; the connection's fields stay as they are."""
        if setup_again:
            self.minter.refuse_spent_seed(self.store.load(), family_to_be_revoked=True)  # before revoking anything
        _, revoked = self._revoke_and_clear()
        message = (
            f"The OAuth token of connection {self.credentials.conn_id!r} was "
            f"{'revoked and ' if revoked else ''}cleared; every connection field is kept. "
            "Edit the connection if needed, then set up the OAuth token again."
        )
        if setup_again:
            again = self.setup(set_up_by=set_up_by)
            return replace(again, action="reset", details={**again.details, "revoked": revoked})
        return self._result("reset", True, TokenStatus.NOT_SET_UP.value, message, revoked=revoked)

    def delete(self) -> ActionResult:
        """Revoke access and refresh tokens and remove the stored token permanently."""
        had_token, revoked = self._revoke_and_clear()
        self.store.clear_test_record()
        self.store.forget_pending()
        message = (
            f"Deleted the OAuth token of connection {self.credentials.conn_id!r}"
            f"{' (revoked at Salesforce)' if revoked else ''}."
        )
        return self._result(
            "delete", True, TokenStatus.NOT_SET_UP.value, message, revoked=revoked, token_removed=had_token
        )

    def _revoke_and_clear(self) -> tuple[bool, bool]:
        """Revoke and forget the stored token; returns (there was one, Salesforce revoked something)."""
        with self.lock.exclusive() as locked:
            state = locked.load()
            revoked = False
            if state is not None:
                for token in (state.refresh_token, state.access_token):
                    if token:
                        # Transient failures raise here and keep the state, so that nothing is lost.
                        revoked = self.client.revoke(token, state.instance_url) or revoked
            spent_seed = self.minter.spent_seed_marker(state)
            if spent_seed is not None:
                locked.save(spent_seed)  # remembers that the connection's refresh token is dead
            else:
                locked.clear()
        return state is not None, revoked

    # ================================================================ test access
    def test_access(self, allow_refresh: bool = True, record: bool = True) -> ActionResult:
        """Call Salesforce with the token (identity and one REST call) and report who and where it is.

        :param allow_refresh: renew the token if needed (the connection form's Test button never does).
        :param record: keep the outcome as the connection's "last test" (not for the Test button's temporary id).
        """
        started = time.perf_counter()
        try:
            details = self._probe(allow_refresh)
        except SF360Error as exc:
            result = self._result("test_access", False, exc.reason, str(exc))
        else:
            details["round_trip_ms"] = round((time.perf_counter() - started) * 1000, 1)
            result = self._result(
                "test_access",
                True,
                TokenStatus.ACTIVE.value,
                f"Access test succeeded: org {details['org_id']}, user {details['username']} on "
                f"{details['instance_url']}.",
                **details,
            )
        if record:
            self.store.save_test_record({**result.to_dict(), "tested_at": self.clock()})
        return result

    def _probe(self, allow_refresh: bool) -> dict[str, Any]:
        state = self.store.load()
        if state is None and not (allow_refresh and self.auto_setup):
            raise not_set_up(self.credentials)
        if state is not None:
            self.minter.raise_if_unusable(state)
        kept_alive = False
        if allow_refresh:
            state = self.current_token()
            if self._idle(state):
                state, kept_alive = self.renew(stale_access_token=state.access_token), True
        elif state is None or not state.is_usable(0, self.clock()):
            return self._probe_refresh_token_only(state)
        try:
            identity = self.client.identity(state.access_token, state.identity_url)
        except TokenRevokedError:
            if not allow_refresh:
                return self._probe_refresh_token_only(state)
            state = self.renew(stale_access_token=state.access_token)
            identity = self.client.identity(state.access_token, state.identity_url)
        self._check_identity_answer(identity)
        limits = self.client.rest_limits(state.access_token, state.instance_url)
        api_requests = limits.get("DailyApiRequests", {}) if isinstance(limits, dict) else {}
        return {
            "org_id": self.credentials.org_id,
            "user_id": self.credentials.user_id,
            "username": identity.get("username"),
            "instance_url": state.instance_url,
            "is_sandbox": self.credentials.is_sandbox,
            "api_version": self.credentials.api_version,
            "daily_api_requests_remaining": api_requests.get("Remaining"),
            "refresh_token_kept_alive": kept_alive,
            "refresh_used_at": state.refresh_used_at or None,
        }

    def _idle(self, state: TokenState) -> bool:
        """Whether the refresh token went unused longer than ``keep_alive_after`` (so an access test redeems it)."""
        if self.keep_alive_after is None or not state.refresh_token or not self.minter.holds_refresh_token:
            return False
        return self.clock() - state.refresh_used_at > self.keep_alive_after

    def _check_identity_answer(self, identity: dict[str, Any]) -> None:
        found = identity_from_url(str(identity.get("id", "")))
        expected = (self.credentials.org_id, self.credentials.user_id)
        if found is not None and found != expected:
            raise IdentityMismatchError(
                f"The stored token belongs to org {found[0]} / user {found[1]}, but the connection expects org "
                f"{expected[0]} / user {expected[1]} (was the sandbox refreshed?). Set up the OAuth token again."
            )
        if identity.get("active") is False:
            raise TokenRevokedError("The Salesforce user is inactive. Reactivate it, then set up again.")

    def _probe_refresh_token_only(self, state: TokenState | None) -> dict[str, Any]:
        """Side-effect-free check for the Test button: never redeem a (possibly rotating) refresh token."""
        if state is None:
            raise not_set_up(self.credentials)
        active = self.client.introspect_active(state.refresh_token) if state.refresh_token else None
        if active is False:
            raise TokenRevokedError(
                f"Salesforce says the refresh token of connection {self.credentials.conn_id!r} is no longer "
                "active (revoked or expired). Set up the OAuth token again."
            )
        if active is None:
            raise SalesforceUnreachableError(
                "The cached access token has expired and checking the refresh token without redeeming it needs "
                "the Consumer Secret; the connection form's Test button never redeems it (that could break refresh "
                "token rotation). Run Test Access from the 'Salesforce 360' page or a task instead."
            )
        return {
            "org_id": state.org_id,
            "user_id": state.user_id,
            "username": state.username,
            "instance_url": state.instance_url,
            "is_sandbox": self.credentials.is_sandbox,
            "api_version": self.credentials.api_version,
            "note": "refresh token active (checked by introspection); the next task renews the access token",
        }

    # ================================================================ status
    def status(self) -> dict[str, Any]:
        """Non-secret status for pages and CLIs: token state and the last test."""
        return status_summary(self.credentials, self.store.load(), self.store.load_test_record(), self.clock())

    def _result(self, action: str, ok: bool, status: str, message: str, **details: Any) -> ActionResult:
        return ActionResult(action, self.credentials.conn_id, ok, status, message, details)


class CachedTokenSource:
    """Implements ``salesforce_session.TokenSource``: no store read per API call while the token is valid."""

    def __init__(self, lifecycle: CredentialLifecycle) -> None:
        self.lifecycle = lifecycle
        self._state: TokenState | None = None

    def current_state(self) -> TokenState:
        state = self._state
        if state is None or self.lifecycle.minter.usable(state) is None:
            state = self._state = self.lifecycle.current_token()
        return state

    def current_access_token(self) -> str:
        return self.current_state().access_token

    def renewed_access_token(self, stale: str) -> str:
        self._state = self.lifecycle.renew(stale_access_token=stale)
        return self._state.access_token
