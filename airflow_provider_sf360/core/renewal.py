"""Token renewal: when a stored token can be used as it is, and how a new one is obtained without losing it.

Protocol (safe under refresh token rotation, with many tasks on many hosts):

1. Read the stored token. Active and not near its end: use it (no lock, no Salesforce call).
2. Otherwise queue behind the other renewers of this host (thread and file lock) and read again: the one
   before us has usually renewed it already.
3. Then enter the credential's exclusive section and read once more. Who provides exclusion depends on where
   the code runs (see ``store/``): a row lock in Airflow's metadata database on the server side (api-server,
   CLI); tasks ask the api-server, which takes that lock for them. Only the holder redeems the refresh token,
   and the new state (above all the rotated refresh token) is stored before anyone uses the access token.

A request that consumes a refresh token is sent once and waited for (its own, longer bound). If its answer is
lost (the bound passed, or the connection broke after the request went out), the provider first finds out what
happened: it introspects the old refresh token when it knows the Consumer Secret. Still active: Salesforce did
not use it, so it is sent again. Consumed: the rotated token is lost and only a new sign-in helps
(:class:`RefreshAnswerLostError`). Cannot tell: stop (:class:`RefreshOutcomeUnknownError`) rather than risk a
reuse that would revoke the whole token family. A fingerprint of the token is written before the grant is sent
(``TokenState.unconfirmed_grant``), so that a renewer that crashed mid-request is resolved the same way.

JWT bearer and client credentials hold no refresh token: concurrent acquisitions are harmless, so they take only
the host lock (one acquisition per host, no herd) and never a cross-host one.

Pure module, no Airflow import.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials
from airflow_provider_sf360.core.errors import (
    CredentialsInvalidError,
    IdentityMismatchError,
    NotSetUpError,
    RefreshAnswerLostError,
    RefreshOutcomeUnknownError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.grants import (
    GrantOutcomeUnknown,
    client_credentials_grant,
    code_grant,
    jwt_grant,
    refresh_grant,
)
from airflow_provider_sf360.core.token_state import TokenResponse, TokenState, TokenStatus

if TYPE_CHECKING:  # the client imports requests (~36 ms): loaded only when a token is actually requested
    from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient

REFRESH_MARGIN_SECONDS = 60.0
UNFINISHED_RENEWAL = (
    "an earlier renewal of this token did not finish: it crashed or lost its answer, or, if [sf360] renewal = local "
    "while tasks run on several hosts, another host redeemed it at the same moment"
)
MACHINE_FLOWS = (AuthFlow.JWT_BEARER, AuthFlow.CLIENT_CREDENTIALS)


class TokenStore(Protocol):
    """Reads and writes one credential's token state."""

    def load(self) -> TokenState | None: ...
    def save(self, state: TokenState) -> None: ...
    def clear(self) -> None: ...


class CredentialLock(Protocol):
    """Serialises token acquisition for one credential."""

    def queue_on_host(self) -> AbstractContextManager[None]:
        """Cheap, host-local: lets waiters on this host re-read what the one before them stored."""

    def exclusive(self) -> AbstractContextManager[TokenStore]:
        """The credential's exclusive section; yields the store to read and write while holding it."""


class RenewalMetrics(Protocol):
    """Where renewals are counted (Airflow's ``Stats`` in the hook layer)."""

    def renewed(self, flow: str, seconds: float) -> None: ...
    def failed(self, reason: str) -> None: ...
    def waited(self, seconds: float) -> None: ...


class NoMetrics:
    """Counts nothing."""

    def renewed(self, flow: str, seconds: float) -> None:
        """Nothing."""

    def failed(self, reason: str) -> None:
        """Nothing."""

    def waited(self, seconds: float) -> None:
        """Nothing."""


class Renewer(Protocol):
    """Replaces a stored token that cannot be used as it is."""

    def renew(self, stale_access_token: str | None) -> TokenState: ...


def fingerprint(secret: str | None) -> str | None:
    """A short, non-reversible name for a secret (to remember which one was used, never the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


def issued_for(creds: SF360Credentials, state: TokenState) -> bool:
    """Whether ``state`` was issued for the connection's current org, user and app (not for edited fields)."""
    app_matches = state.app is None or state.app == creds.app_fingerprint
    return app_matches and (state.org_id, state.user_id) == (creds.org_id, creds.user_id)


def how_to_set_up(conn_id: str) -> str:
    """The one thing to do when a connection has no token: where to set it up."""
    return (f"Set up the OAuth token: the 'Salesforce 360' page in the Airflow UI, `sf360 setup {conn_id}`, or the "
            "SF360SetupOAuthOperator.")


def not_set_up(creds: SF360Credentials) -> NotSetUpError:
    """The error for a connection without a stored token."""
    return NotSetUpError(f"No OAuth token is set up for connection {creds.conn_id!r} (org {creds.org_id}, "
                         f"user {creds.user_id}). {how_to_set_up(creds.conn_id)}")


@dataclass
class TokenMinter:
    """Everything about tokens that does not depend on where the code runs: usability, grants, new states.

    :param credentials: the connection's validated credentials.
    :param client: the OAuth client (the network).
    :param session_timeout: seconds an access token is assumed to live when introspection cannot tell.
    :param refresh_margin: renew this many seconds (at most a fifth of the lifetime) before the end.
    :param clock: epoch seconds.
    """

    credentials: SF360Credentials
    client: SalesforceOAuthClient
    session_timeout: float
    refresh_margin: float = REFRESH_MARGIN_SECONDS
    clock: Callable[[], float] = time.time

    @property
    def flow(self) -> AuthFlow:
        return self.credentials.auth_flow

    @property
    def holds_refresh_token(self) -> bool:
        """Whether renewal consumes a refresh token (and so needs a cross-host lock)."""
        return self.flow not in MACHINE_FLOWS

    # ---------------------------------------------------------------- is the stored token usable?
    def usable(self, state: TokenState | None, stale_access_token: str | None = None) -> TokenState | None:
        """``state`` if it can be used as it is, else None; raises at once if it is revoked or mismatched."""
        if state is None:
            return None
        self.raise_if_unusable(state)
        fresh = state.is_usable(self.refresh_margin, self.clock())
        return state if fresh and state.access_token != stale_access_token else None

    def raise_if_unusable(self, state: TokenState) -> None:
        """Fail without calling Salesforce when the stored token is known to be dead or someone else's."""
        if not self.issued_for_these_fields(state):
            raise NotSetUpError(
                f"The OAuth token stored for connection {self.credentials.conn_id!r} was set up for other values of "
                "its Org ID, User ID, Consumer Key or Login URL, which were edited since. Set up the OAuth token "
                "again (the old token is revoked then)."
            )
        if state.status is TokenStatus.REVOKED:
            detail = state.status_detail or "Salesforce refused it."
            advice = "" if "set up the oauth token again" in detail.lower() else " Set up the OAuth token again."
            named = repr(self.credentials.conn_id) in detail
            raise TokenRevokedError(f"{'' if named else f'Connection {self.credentials.conn_id!r}: '}{detail}{advice}")
        if state.status is TokenStatus.IDENTITY_MISMATCH:
            raise IdentityMismatchError(state.status_detail or "The stored token belongs to another org or user.")
        if state.status is TokenStatus.NOT_SET_UP:  # what a reset or delete kept of a refresh_token-flow state
            raise NotSetUpError(f"{not_set_up(self.credentials)} {state.status_detail or ''}".strip())

    def issued_for_these_fields(self, state: TokenState) -> bool:
        """Whether ``state`` was issued for the connection's current org, user and app."""
        return issued_for(self.credentials, state)

    # ---------------------------------------------------------------- obtaining a token
    def grant(self, previous: TokenState | None, on_sending: Callable[[TokenState], None]) -> TokenResponse:
        """A new token by the connection's flow; ``on_sending`` records a refresh grant before it is sent."""
        if self.flow is AuthFlow.JWT_BEARER:
            return self.client.request_token(jwt_grant(self.credentials))
        if self.flow is AuthFlow.CLIENT_CREDENTIALS:
            return self.client.request_token(client_credentials_grant(self.credentials))
        if previous is not None and previous.refresh_token and not self._seed_is_new(previous):
            return self.redeem(previous, on_sending)
        if self.flow is AuthFlow.REFRESH_TOKEN and self.credentials.refresh_token:
            self.refuse_spent_seed(previous)
            return self.redeem_refresh_token(self.credentials.refresh_token)
        if previous is not None:
            raise TokenRevokedError(
                f"Connection {self.credentials.conn_id!r} has no refresh token (the Connected App must allow the "
                "'refresh_token, offline_access' scope). Set up the OAuth token again."
            )
        raise not_set_up(self.credentials)

    def refuse_spent_seed(self, previous: TokenState | None, family_to_be_revoked: bool = False) -> None:
        """refresh_token flow: refuse, before calling Salesforce, to present a seed that was redeemed before and
        whose token family is gone (a reset or delete revoked it; under rotation it was single-use anyway).

        :param previous: the stored state (None: the seed was never redeemed).
        :param family_to_be_revoked: the caller is about to revoke the stored family (reset, then set up again).
        """
        if self.flow is not AuthFlow.REFRESH_TOKEN or previous is None or self._seed_is_new(previous):
            return
        if previous.refresh_token and previous.status is TokenStatus.ACTIVE and not family_to_be_revoked:
            return  # its rotated successor is stored and alive: set up again redeems that one
        raise CredentialsInvalidError(self.credentials.conn_id, [
            "Refresh Token: this refresh token was already redeemed by an earlier setup, and its token family is "
            "gone (revoked by a reset or delete, or rotated out), so presenting it again cannot work and would "
            "count as a reuse at Salesforce. Paste a new refresh token into the connection, then set up again."
        ])

    def spent_seed_marker(self, state: TokenState | None) -> TokenState | None:
        """What a reset or delete keeps of a refresh_token-flow state: no token, only which seed is spent."""
        if state is None or self.flow is not AuthFlow.REFRESH_TOKEN or not state.seed_hash:
            return None
        return replace(state, status=TokenStatus.NOT_SET_UP, access_token="", refresh_token=None,
                       status_detail="The connection's refresh token was used up; paste a new one to set up again.",
                       unconfirmed_grant=None)

    def _seed_is_new(self, previous: TokenState) -> bool:
        """refresh_token flow: the connection holds a seed that was never redeemed (the user pasted a new one)."""
        if self.flow is not AuthFlow.REFRESH_TOKEN or not self.credentials.refresh_token:
            return False
        return previous.seed_hash != fingerprint(self.credentials.refresh_token)

    def redeem(self, state: TokenState, on_sending: Callable[[TokenState], None]) -> TokenResponse:
        """Redeem the stored refresh token, first resolving an earlier grant whose answer never came."""
        token = state.refresh_token or ""
        if state.unconfirmed_grant and state.unconfirmed_grant == fingerprint(token):
            self._confirm_not_consumed(token, UNFINISHED_RENEWAL)
        on_sending(replace(state, unconfirmed_grant=fingerprint(token)))
        return self.redeem_refresh_token(token)

    def redeem_refresh_token(self, token: str) -> TokenResponse:
        """Send a refresh grant; after a lost answer, send it again only if Salesforce says it was not used."""
        grant = refresh_grant(self.credentials, token)
        try:
            return self.client.request_token(grant)
        except GrantOutcomeUnknown as lost:
            self._confirm_not_consumed(token, lost.description)
        try:
            return self.client.request_token(grant)
        except GrantOutcomeUnknown as lost_again:
            self._confirm_not_consumed(token, lost_again.description)
            raise SalesforceUnreachableError(
                "Salesforce could not be reached for the refresh token grant: two requests in a row lost their "
                "answers, though Salesforce did not use the token (checked by introspection). Nothing was lost; "
                "the task can be retried."
            ) from None

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenResponse:
        """Redeem an authorization code (single-use: a lost answer is never followed by a second try).

        :param code: the code Salesforce redirected with.
        :param verifier: the PKCE verifier kept since the authorize request.
        :param redirect_uri: the redirect URI of the authorize request.
        """
        try:
            return self.client.request_token(code_grant(self.credentials, code, verifier, redirect_uri))
        except GrantOutcomeUnknown as lost:
            raise SalesforceUnreachableError(
                f"Salesforce's answer to the authorization code exchange was lost ({lost.description}); the code "
                "cannot be used twice. Nothing was stored: start the setup again."
            ) from None

    def _confirm_not_consumed(self, token: str, what_happened: str) -> None:
        """Return if Salesforce still accepts ``token``; else raise the error that says what happened."""
        conn = self.credentials.conn_id
        active = self.client.introspect_active(token)
        if active is True:
            return
        if active is False:
            raise RefreshAnswerLostError(
                f"Salesforce rotated the refresh token of connection {conn!r} but its answer was lost on the way "
                f"back ({what_happened}); the old refresh token is no longer valid. Set up the OAuth token again."
            )
        if not self.credentials.consumer_secret:
            raise RefreshOutcomeUnknownError(
                f"The answer to the refresh of connection {conn!r} was lost ({what_happened}). Without the "
                "Consumer Secret the provider cannot ask Salesforce whether the refresh token was used, and "
                "presenting it again could revoke the whole token family under rotation. Add the Consumer "
                "Secret to the connection (the next renewal then checks first), or set up the OAuth token again."
            )
        unresolved = SalesforceUnreachableError(
            f"The answer to the refresh of connection {conn!r} was lost ({what_happened}) and Salesforce's "
            "introspection endpoint did not answer, so whether the refresh token was used is not known yet. "
            "Nothing was re-sent; the next attempt checks first. The task can be retried."
        )
        unresolved.grant_unresolved = True
        raise unresolved

    # ---------------------------------------------------------------- the state to store
    def verify_identity(self, response: TokenResponse) -> tuple[str, str]:
        """The token's (org, user), or raise if they are not the connection's; a token that is someone else's is
        revoked first, so that it neither stays alive nor uses up one of that user's five approvals."""
        try:
            return self.client.check_identity(response)
        except IdentityMismatchError:
            for token in (response.refresh_token, response.access_token):
                if token:
                    self.revoke_quietly(token, response.instance_url)
            raise

    def revoke_quietly(self, token: str, base_url: str) -> bool:
        """Revoke ``token``; False (never an error) when Salesforce cannot be reached or it was already dead."""
        try:
            return self.client.revoke(token, base_url)
        except SF360Error:
            return False

    def state_from(self, response: TokenResponse, previous: TokenState | None, set_up_by: str | None) -> TokenState:
        """The state to store for a token answer whose identity was checked (the rotated refresh token kept)."""
        org_id, user_id = self.verify_identity(response)
        expires_at = self.client.introspect_expiry(response.access_token) or (
            response.issued_at + self.session_timeout
        )
        refresh_token = response.refresh_token or (previous.refresh_token if previous else None)
        seed = self.credentials.refresh_token if self.flow is AuthFlow.REFRESH_TOKEN else None
        now = self.clock()
        rotated = bool(previous and previous.refresh_token and response.refresh_token
                       and response.refresh_token != previous.refresh_token)
        return TokenState(
            status=TokenStatus.ACTIVE,
            access_token=response.access_token,
            refresh_token=refresh_token or seed,
            instance_url=response.instance_url,
            identity_url=response.identity_url,
            org_id=org_id,
            user_id=user_id,
            auth_flow=self.flow.value,
            issued_at=response.issued_at,
            expires_at=expires_at,
            generation=(previous.generation + 1) if previous else 1,
            username=previous.username if previous else None,
            set_up_at=previous.set_up_at if previous and previous.set_up_at else now,
            set_up_by=set_up_by if set_up_by is not None or previous is None else previous.set_up_by,
            seed_hash=fingerprint(seed),
            set_up_for=self.credentials.conn_id if previous is None else previous.set_up_for,
            refresh_used_at=now if self.holds_refresh_token else 0.0,
            app=self.credentials.app_fingerprint,
            scope=response.scope or (previous.scope if previous else ""),
            shared_with=previous.shared_with if previous else (),
            rotated_at=now if rotated else (previous.rotated_at if previous else 0.0),
        )


class LockingRenewer:
    """Renews under the credential lock: the server side (metadata-DB lock), machine flows and local fallback.

    :param minter: token logic.
    :param store: where the state is read outside the lock (and where a pending grant is recorded at once).
    :param lock: the credential lock of the place this runs in.
    :param auto_setup: obtain a first token when none is stored (the flows that need no person).
    :param metrics: where renewals are counted.
    """

    def __init__(
        self, minter: TokenMinter, store: TokenStore, lock: CredentialLock, *, auto_setup: bool,
        metrics: RenewalMetrics | None = None,
    ) -> None:
        self.minter = minter
        self.store = store
        self.lock = lock
        self.auto_setup = auto_setup
        self.metrics = metrics or NoMetrics()

    def renew(self, stale_access_token: str | None) -> TokenState:
        """The state to use instead of one that is missing, near its end, or refused (``stale_access_token``)."""
        if (usable := self.minter.usable(self.store.load(), stale_access_token)) is not None:
            return usable
        queued = time.monotonic()
        with self.lock.queue_on_host():
            if (usable := self.minter.usable(self.store.load(), stale_access_token)) is not None:
                self.metrics.waited(time.monotonic() - queued)
                return usable
            with self.lock.exclusive() as locked:
                self.metrics.waited(time.monotonic() - queued)
                return self._renew_holding_lock(locked, stale_access_token)

    def _renew_holding_lock(self, locked: TokenStore, stale_access_token: str | None) -> TokenState:
        state = locked.load()
        if (usable := self.minter.usable(state, stale_access_token)) is not None:
            return usable  # renewed by another process while we waited
        if state is None and not self.auto_setup:
            raise not_set_up(self.minter.credentials)
        started = time.monotonic()
        try:
            response = self.minter.grant(state, on_sending=self.store.save)
            renewed = self.minter.state_from(response, previous=state, set_up_by=None if state else "auto")
        except SF360Error as error:
            self.metrics.failed(error.reason)
            if state is not None:
                self._remember_failure(locked, state, error)
            raise
        locked.save(renewed)  # the rotated refresh token is stored before anyone uses the access token
        self.metrics.renewed(self.minter.flow.value, time.monotonic() - started)
        return renewed

    def _remember_failure(self, locked: TokenStore, state: TokenState, error: SF360Error) -> None:
        """Store what later tasks must know without calling Salesforce.

        A dead refresh token is stored as revoked (only refresh-token flows hold one: JWT bearer and client
        credentials are never marked revoked), a token of another org or user as mismatched. Any other failure
        keeps the token as it is: the grant was answered, so the refresh token was not consumed, and the marker of
        an unconfirmed grant is cleared (unless the outcome is still unknown); the failure is noted for the page.
        """
        if isinstance(error, TokenRevokedError) and self.minter.holds_refresh_token:
            locked.save(state.with_status(TokenStatus.REVOKED, str(error)))
            return
        if isinstance(error, IdentityMismatchError):
            locked.save(state.with_status(TokenStatus.IDENTITY_MISMATCH, str(error)))
            return
        current = locked.load()
        if current is None:
            return
        marker = current.unconfirmed_grant if error.grant_unresolved else None
        locked.save(replace(current, unconfirmed_grant=marker, last_failure=str(error),
                            last_failure_at=self.minter.clock()))
