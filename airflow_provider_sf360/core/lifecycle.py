"""The product's four actions (set up, reset, test access, delete) and token renewal, for one credential.

Pure logic over two injected parts: :class:`SalesforceOAuthClient` (the network) and a :class:`StateStore`
(where the token lives and how acquisitions are serialised). The hook, the operators, the UI page and the
CLI all call these methods, so every behaviour is written once.

Renewal protocol (refresh token rotation safe, see README "How concurrent tasks share one token"):
1. read the stored token; if it is active and not near its end, use it: no lock, no Salesforce call;
2. otherwise take the credential lock, read again, and use the stored token if another task renewed it;
3. else redeem the refresh token (or mint a new JWT / client-credentials token), store the answer
   (the new refresh token first of all), release the lock, and only then use the new access token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from airflow_provider_sf360.core.credentials import DEFAULT_CALLBACK_URL, AuthFlow, SF360Credentials
from airflow_provider_sf360.core.errors import (
    AuthorizationDeniedError,
    IdentityMismatchError,
    NotSetUpError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient
from airflow_provider_sf360.core.token_state import TokenResponse, TokenState, TokenStatus

PENDING_AUTHORIZATION_SECONDS = 600
REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class PendingAuthorization:
    """What the web server flow keeps server-side between its two halves (never put in a URL)."""

    code_verifier: str = field(repr=False)
    redirect_uri: str
    state_key: str
    expires_at: float
    requested_by: str | None = None


class StateStore(Protocol):
    """Where one credential's token lives; implemented with Airflow Variables in ``store/``."""

    def load(self) -> TokenState | None: ...
    def save(self, state: TokenState) -> None: ...
    def clear(self) -> None: ...
    def locked(self) -> AbstractContextManager[None]: ...
    def locked_on_host(self) -> AbstractContextManager[None]: ...
    def save_pending(self, state_param: str, pending: PendingAuthorization) -> None: ...
    def pop_pending(self, state_param: str) -> PendingAuthorization | None: ...
    def load_test_record(self) -> dict[str, Any] | None: ...
    def save_test_record(self, record: dict[str, Any]) -> None: ...
    def clear_test_record(self) -> None: ...


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


def _fingerprint(secret: str | None) -> str | None:
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


def _not_set_up(creds: SF360Credentials) -> NotSetUpError:
    return NotSetUpError(
        f"No OAuth token is set up for connection {creds.conn_id!r} (org {creds.org_id}, user {creds.user_id}). "
        "Set up the OAuth token: the 'Salesforce 360' page in the Airflow UI, `sf360 setup "
        f"{creds.conn_id}`, or the SF360SetupOAuthOperator."
    )


class CredentialLifecycle:
    """Token acquisition, renewal and the four actions for one connection's credentials."""

    def __init__(
        self,
        credentials: SF360Credentials,
        client: SalesforceOAuthClient,
        store: StateStore,
        *,
        session_timeout: float,
        auto_setup: bool | None = None,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.client = client
        self.store = store
        self.session_timeout = session_timeout
        self.refresh_margin = refresh_margin
        self.clock = clock
        machine_flows = (AuthFlow.JWT_BEARER, AuthFlow.CLIENT_CREDENTIALS)
        self.auto_setup = credentials.auth_flow in machine_flows if auto_setup is None else auto_setup

    # ================================================================ tokens for API calls
    def current_token(self) -> TokenState:
        """A stored token that is active and not near its end; renews it (once, under the lock) if needed."""
        state = self.store.load()
        if state is not None and state.is_usable(self.refresh_margin, self.clock()):
            return state
        return self._renew(None, state)

    def renew(self, stale_access_token: str | None) -> TokenState:
        """Replace a token Salesforce refused (``stale_access_token``) or one near its end."""
        return self._renew(stale_access_token, self.store.load())

    def _usable_as_is(self, state: TokenState | None, stale_access_token: str | None) -> TokenState | None:
        """``state`` if it can be used as it is (e.g. another task renewed it), else None; raises if revoked."""
        if state is None:
            return None
        self._raise_if_unusable(state)  # revoked or mismatched: fail at once, no lock, no Salesforce call
        usable = state.is_usable(self.refresh_margin, self.clock()) and state.access_token != stale_access_token
        return state if usable else None

    def _renew(self, stale_access_token: str | None, state: TokenState | None) -> TokenState:
        if (usable := self._usable_as_is(state, stale_access_token)) is not None:
            return usable
        # Waiters on this host queue on the cheap host lock and re-read; only one takes the cross-host lease.
        with self.store.locked_on_host():
            if (usable := self._usable_as_is(self.store.load(), stale_access_token)) is not None:
                return usable
            with self.store.locked():
                return self._renew_holding_lock(stale_access_token)

    def _renew_holding_lock(self, stale_access_token: str | None) -> TokenState:
        state = self.store.load()
        if state is None:
            if not self.auto_setup:
                raise _not_set_up(self.credentials)
            return self._store_new(self._acquire_without_browser(None), previous=None, set_up_by="auto")
        if (usable := self._usable_as_is(state, stale_access_token)) is not None:
            return usable  # renewed on another host while we waited for the lease
        try:
            response = self._renewal_response(state)
            self.client.check_identity(response)
        except (TokenRevokedError, IdentityMismatchError) as exc:
            status = TokenStatus.REVOKED if isinstance(exc, TokenRevokedError) else TokenStatus.IDENTITY_MISMATCH
            self.store.save(state.with_status(status, str(exc)))
            raise
        renewed = self._state_from(response, previous=state, set_up_by=state.set_up_by)
        self.store.save(renewed)  # the rotated refresh token is stored before anyone uses the access token
        return renewed

    def _raise_if_unusable(self, state: TokenState) -> None:
        if state.status is TokenStatus.REVOKED:
            detail = state.status_detail or "Salesforce refused it."
            advice = "" if "set up the oauth token again" in detail.lower() else " Set up the OAuth token again."
            raise TokenRevokedError(
                f"The OAuth token of connection {self.credentials.conn_id!r} was revoked or expired: {detail}{advice}"
            )
        if state.status is TokenStatus.IDENTITY_MISMATCH:
            raise IdentityMismatchError(state.status_detail or "The stored token belongs to another org or user.")

    def _renewal_response(self, state: TokenState) -> TokenResponse:
        flow = self.credentials.auth_flow
        if flow in (AuthFlow.JWT_BEARER, AuthFlow.CLIENT_CREDENTIALS):
            return self._acquire_without_browser(state)
        if not state.refresh_token:
            raise TokenRevokedError(
                f"Connection {self.credentials.conn_id!r} has no refresh token (the Connected App must allow the "
                "'refresh_token, offline_access' scope). Set up the OAuth token again."
            )
        return self.client.redeem_refresh_token(state.refresh_token)

    def _acquire_without_browser(self, previous: TokenState | None) -> TokenResponse:
        """JWT, client credentials or the seed refresh token: the flows that need no person."""
        creds = self.credentials
        if creds.auth_flow is AuthFlow.JWT_BEARER:
            return self.client.jwt_bearer()
        if creds.auth_flow is AuthFlow.CLIENT_CREDENTIALS:
            return self.client.client_credentials()
        if creds.auth_flow is AuthFlow.REFRESH_TOKEN:
            seed = creds.refresh_token or ""
            already_redeemed = previous is not None and previous.seed_hash == _fingerprint(seed)
            # With rotation a seed redeemed once is dead; presenting it again would revoke the whole family.
            if already_redeemed and previous is not None and previous.refresh_token:
                return self.client.redeem_refresh_token(previous.refresh_token)
            return self.client.redeem_refresh_token(seed)
        raise _not_set_up(creds)

    def _state_from(self, response: TokenResponse, previous: TokenState | None, set_up_by: str | None) -> TokenState:
        org_id, user_id = self.client.check_identity(response)
        expires_at = self.client.introspect_expiry(response.access_token) or (
            response.issued_at + self.session_timeout
        )
        refresh_token = response.refresh_token or (previous.refresh_token if previous else None)
        if self.credentials.auth_flow is AuthFlow.REFRESH_TOKEN and not refresh_token:
            refresh_token = self.credentials.refresh_token
        return TokenState(
            status=TokenStatus.ACTIVE,
            access_token=response.access_token,
            refresh_token=refresh_token,
            instance_url=response.instance_url,
            identity_url=response.identity_url,
            org_id=org_id,
            user_id=user_id,
            auth_flow=self.credentials.auth_flow.value,
            issued_at=response.issued_at,
            expires_at=expires_at,
            generation=(previous.generation + 1) if previous else 1,
            username=previous.username if previous else None,
            set_up_at=previous.set_up_at if previous and previous.set_up_at else self.clock(),
            set_up_by=set_up_by,
            seed_hash=_fingerprint(self.credentials.refresh_token)
            if self.credentials.auth_flow is AuthFlow.REFRESH_TOKEN
            else None,
        )

    def _store_new(self, response: TokenResponse, previous: TokenState | None, set_up_by: str | None) -> TokenState:
        fresh = self._state_from(response, previous=None, set_up_by=set_up_by)
        if previous is not None and self.credentials.auth_flow is AuthFlow.REFRESH_TOKEN:
            fresh = replace(fresh, generation=previous.generation + 1)
        self.store.save(fresh)
        return fresh

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
        response = self.client.exchange_code(code, pending.code_verifier, pending.redirect_uri)
        return self._finish_setup(response, set_up_by or pending.requested_by)

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
        previous = self.store.load()
        return self._finish_setup(self._acquire_without_browser(previous), set_up_by)

    def _finish_setup(self, response: TokenResponse, set_up_by: str | None) -> ActionResult:
        self.client.check_identity(response)  # raises before anything is stored
        with self.store.locked():
            previous = self.store.load()
            state = self._store_new(response, previous, set_up_by)
        revoked_previous = False
        if previous and previous.refresh_token and previous.refresh_token != state.refresh_token:
            revoked_previous = self._revoke_quietly(previous.refresh_token, previous.instance_url)
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

    def _revoke_quietly(self, token: str, base_url: str) -> bool:
        try:
            return self.client.revoke(token, base_url)
        except SF360Error:
            return False

    # ================================================================ reset and delete
    def reset(self, setup_again: bool = False, set_up_by: str | None = None) -> ActionResult:
        """Revoke the token at Salesforce and forget it; the connection's fields stay as they are."""
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
        message = (
            f"Deleted the OAuth token of connection {self.credentials.conn_id!r}"
            f"{' (revoked at Salesforce)' if revoked else ''}."
        )
        return self._result(
            "delete", True, TokenStatus.NOT_SET_UP.value, message, revoked=revoked, token_removed=had_token
        )

    def _revoke_and_clear(self) -> tuple[bool, bool]:
        """Revoke and forget the stored token; returns (there was one, Salesforce revoked something)."""
        with self.store.locked():
            state = self.store.load()
            revoked = False
            if state is not None:
                for token in (state.refresh_token, state.access_token):
                    if token:
                        # Transient failures raise here and keep the state, so that nothing is lost.
                        revoked = self.client.revoke(token, state.instance_url) or revoked
            self.store.clear()
        return state is not None, revoked

    # ================================================================ test access
    def test_access(self, allow_refresh: bool = True) -> ActionResult:
        """Call Salesforce with the token (identity and one REST call) and report who and where it is."""
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
        self.store.save_test_record({**result.to_dict(), "tested_at": self.clock()})
        return result

    def _probe(self, allow_refresh: bool) -> dict[str, Any]:
        state = self.store.load()
        if state is None and not (allow_refresh and self.auto_setup):
            raise _not_set_up(self.credentials)
        if state is not None:
            self._raise_if_unusable(state)
        if allow_refresh:
            state = self.current_token()
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
        }

    def _check_identity_answer(self, identity: dict[str, Any]) -> None:
        url = str(identity.get("id", ""))
        found = TokenResponse(access_token="", instance_url="", identity_url=url, issued_at=0).org_and_user
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
            raise _not_set_up(self.credentials)
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
        state = self.store.load()
        summary: dict[str, Any] = {"conn_id": self.credentials.conn_id, **self.credentials.describe()}
        if state is None:
            summary["status"] = TokenStatus.NOT_SET_UP.value
        else:
            summary.update(state.describe())
            if state.status is TokenStatus.ACTIVE and state.seconds_left(self.clock()) <= 0:
                summary["status"] = TokenStatus.EXPIRED.value
        summary["last_test"] = self.store.load_test_record()
        return summary

    def _result(self, action: str, ok: bool, status: str, message: str, **details: Any) -> ActionResult:
        return ActionResult(action, self.credentials.conn_id, ok, status, message, details)


class CachedTokenSource:
    """Implements ``salesforce_session.TokenSource``: no store read per API call while the token is valid."""

    def __init__(self, lifecycle: CredentialLifecycle) -> None:
        self.lifecycle = lifecycle
        self._state: TokenState | None = None

    def current_state(self) -> TokenState:
        state = self._state
        if state is None or not state.is_usable(self.lifecycle.refresh_margin, self.lifecycle.clock()):
            state = self._state = self.lifecycle.current_token()
        return state

    def current_access_token(self) -> str:
        return self.current_state().access_token

    def renewed_access_token(self, stale: str) -> str:
        self._state = self.lifecycle.renew(stale_access_token=stale)
        return self._state.access_token
