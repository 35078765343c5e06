"""Every branch of renewal, in memory: the store, the lock, the token endpoint and the clock are fakes.

The same logic runs against the emulator, real processes and a real api-server in ``tests/lifecycle`` and
``tests/scale``; here each branch is one short test that runs in milliseconds (``make test-fast``): use the stored
token, wait for another renewer, redeem and rotate, a dead refresh token, an admin restriction that keeps the token,
an answer lost (re-sent only when Salesforce says the token is unused), a renewer that crashed mid-grant, a token
of another user, machine flows (never marked revoked), the authorization code (never re-sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from airflow_provider_sf360.core.credentials import SF360Credentials, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import (
    IdentityMismatchError,
    LoginRestrictedError,
    NotSetUpError,
    RefreshAnswerLostError,
    RefreshOutcomeUnknownError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.grants import Grant, GrantOutcomeUnknown, GrantRequest
from airflow_provider_sf360.core.hosts import ProviderSettings
from airflow_provider_sf360.core.ids import to18
from airflow_provider_sf360.core.jwt_keys import generate_jwt_key_pair
from airflow_provider_sf360.core.renewal import UNFINISHED_RENEWAL, LockingRenewer, TokenMinter, fingerprint
from airflow_provider_sf360.core.token_state import TokenResponse, TokenState, TokenStatus

ORG, USER, OTHER_USER = to18("00D5e000000AbCd"), to18("0055e000001XyZa"), to18("0055e000009Other")
LOGIN = "https://acme.my.salesforce.com"
LIFETIME = 7200.0
NEAR_END = 5.0  # seconds left: inside the renewal margin
NOW = 1_800_000_000.0
PRIVATE_KEY, _CERT = generate_jwt_key_pair("renewal logic")


def credentials(flow: str = "authorization_code", secret: str | None = "shh", **extra: Any) -> SF360Credentials:
    fields = {"org_id": ORG, "user_id": USER, "auth_flow": flow, "login_url": LOGIN, **extra}
    if flow == "jwt_bearer":
        fields |= {"private_key": PRIVATE_KEY, "username": "etl@acme.example"}
    return credentials_from_connection_fields("sf_logic", fields, "3MVGkey", secret, ProviderSettings())


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryStore:
    """One credential's token state in memory, with every save kept for assertions."""

    state: TokenState | None = None
    saved: list[TokenState] = field(default_factory=list)

    def load(self) -> TokenState | None:
        return self.state

    def save(self, state: TokenState) -> None:
        self.state = state
        self.saved.append(state)

    def clear(self) -> None:
        self.state = None


@dataclass
class MemoryLock:
    """The credential lock; ``on_enter`` stands for another renewer that finished while this one waited."""

    store: MemoryStore
    entered: int = 0
    on_enter: Any = None

    def queue_on_host(self) -> nullcontext[None]:
        return nullcontext()

    @contextmanager
    def exclusive(self) -> Iterator[MemoryStore]:
        self.entered += 1
        if self.on_enter:
            self.on_enter()
        yield self.store


@dataclass
class Salesforce:
    """The token endpoint as a script: each grant takes the next outcome (an answer or an exception)."""

    outcomes: list[Any] = field(default_factory=list)
    introspection: list[bool | None] = field(default_factory=list)
    sent: list[GrantRequest] = field(default_factory=list)
    introspected: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    markers_seen: list[str | None] = field(default_factory=list)
    store: MemoryStore | None = None
    credentials: SF360Credentials | None = None

    def request_token(self, grant: GrantRequest) -> TokenResponse:
        self.sent.append(grant)
        if self.store is not None:  # what a crash at this moment would leave behind
            self.markers_seen.append(self.store.state.unconfirmed_grant if self.store.state else None)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def introspect_active(self, token: str) -> bool | None:
        self.introspected.append(token)
        return self.introspection.pop(0)

    def introspect_expiry(self, access_token: str) -> float | None:
        return None

    def check_identity(self, response: TokenResponse) -> tuple[str, str]:
        found = response.org_and_user
        if found != (ORG, USER):
            raise IdentityMismatchError(f"The token is of user {found[1] if found else '?'}, not {USER}.")
        return found

    def revoke(self, token: str, base_url: str) -> bool:
        self.revoked.append(token)
        return True


def answer(access: str, refresh: str | None = None, user: str = USER, issued_at: float = NOW) -> TokenResponse:
    return TokenResponse(access_token=access, instance_url=LOGIN, identity_url=f"{LOGIN}/id/{ORG}/{user}",
                         issued_at=issued_at, refresh_token=refresh, scope="api refresh_token")


def stored(access: str = "AT1", refresh: str | None = "RT1", expires_in: float = LIFETIME,
           **changes: Any) -> TokenState:
    state = TokenState(status=TokenStatus.ACTIVE, access_token=access, instance_url=LOGIN,
                       identity_url=f"{LOGIN}/id/{ORG}/{USER}", org_id=ORG, user_id=USER,
                       auth_flow="authorization_code", issued_at=NOW - 60, expires_at=NOW + expires_in,
                       refresh_token=refresh, app=credentials().app_fingerprint)
    return replace(state, **changes)


@dataclass
class World:
    store: MemoryStore
    lock: MemoryLock
    salesforce: Salesforce
    clock: Clock
    renewer: LockingRenewer


def world(state: TokenState | None = None, *outcomes: Any, introspection: tuple[bool | None, ...] = (),
          creds: SF360Credentials | None = None, auto_setup: bool = False) -> World:
    creds = creds or credentials()
    store = MemoryStore(state)
    salesforce = Salesforce(list(outcomes), list(introspection), store=store, credentials=creds)
    clock = Clock()
    minter = TokenMinter(creds, salesforce, session_timeout=LIFETIME, clock=clock)  # type: ignore[arg-type]
    lock = MemoryLock(store)
    return World(store, lock, salesforce, clock, LockingRenewer(minter, store, lock, auto_setup=auto_setup))


# ------------------------------------------------------------------ using what is stored
def test_a_fresh_stored_token_is_used_without_lock_or_grant() -> None:
    w = world(stored())
    assert w.renewer.renew(None).access_token == "AT1"
    assert w.lock.entered == 0 and w.salesforce.sent == []


def test_a_token_near_its_end_is_renewed() -> None:
    w = world(stored(expires_in=NEAR_END), answer("AT2"))
    assert w.renewer.renew(None).access_token == "AT2"
    assert [grant.grant for grant in w.salesforce.sent] == [Grant.REFRESH_TOKEN]


def test_a_token_salesforce_refused_is_renewed_even_if_not_expired() -> None:
    w = world(stored(), answer("AT2"))
    assert w.renewer.renew(stale_access_token="AT1").access_token == "AT2"


def test_a_renewal_finished_by_another_renewer_while_waiting_is_used() -> None:
    w = world(stored(expires_in=NEAR_END))
    w.lock.on_enter = lambda: w.store.save(stored(access="AT-other", generation=2))
    assert w.renewer.renew(None).access_token == "AT-other"
    assert w.salesforce.sent == []


def test_no_stored_token_is_not_set_up_and_sends_nothing() -> None:
    w = world(None)
    with pytest.raises(NotSetUpError, match="Set up the OAuth token"):
        w.renewer.renew(None)
    assert w.salesforce.sent == []


def test_fields_edited_since_setup_fail_before_any_grant() -> None:
    w = world(stored(user_id=OTHER_USER))
    with pytest.raises(NotSetUpError, match="were edited since"):
        w.renewer.renew(None)
    assert w.lock.entered == 0 and w.salesforce.sent == []


# ------------------------------------------------------------------ redeeming the refresh token
def test_rotation_stores_the_new_refresh_token_and_marks_the_grant_before_sending() -> None:
    w = world(stored(expires_in=NEAR_END), answer("AT2", refresh="RT2"))
    renewed = w.renewer.renew(None)
    assert (renewed.access_token, renewed.refresh_token, renewed.generation) == ("AT2", "RT2", 2)
    assert renewed.rotated_at == NOW and renewed.refresh_used_at == NOW and renewed.unconfirmed_grant is None
    assert w.salesforce.markers_seen == [fingerprint("RT1")]  # written before the request went out
    assert w.store.state == renewed


def test_without_rotation_the_refresh_token_is_kept() -> None:
    w = world(stored(expires_in=NEAR_END), answer("AT2"))
    renewed = w.renewer.renew(None)
    assert renewed.refresh_token == "RT1" and renewed.rotated_at == 0.0


def test_a_dead_refresh_token_is_stored_as_revoked_and_not_tried_again() -> None:
    w = world(stored(expires_in=NEAR_END), TokenRevokedError("Salesforce no longer accepts this refresh token."))
    with pytest.raises(TokenRevokedError):
        w.renewer.renew(None)
    assert w.store.state is not None and w.store.state.status is TokenStatus.REVOKED
    with pytest.raises(TokenRevokedError, match="Set up the OAuth token again"):
        w.renewer.renew(None)
    assert len(w.salesforce.sent) == 1


def test_an_ip_restriction_keeps_the_token_and_the_next_renewal_works() -> None:
    restricted = LoginRestrictedError("ip restricted or invalid login hours", "login_restricted")
    w = world(stored(expires_in=NEAR_END), restricted, answer("AT2"))
    with pytest.raises(LoginRestrictedError):
        w.renewer.renew(None)
    kept = w.store.state
    assert kept is not None and kept.status is TokenStatus.ACTIVE and kept.refresh_token == "RT1"
    assert kept.unconfirmed_grant is None and "ip restricted" in (kept.last_failure or "")
    assert w.renewer.renew(None).access_token == "AT2"  # once the admin allows it: no new setup


def test_a_token_of_another_user_is_revoked_and_marked() -> None:
    w = world(stored(expires_in=NEAR_END), answer("AT-x", refresh="RT-x", user=OTHER_USER))
    with pytest.raises(IdentityMismatchError):
        w.renewer.renew(None)
    assert w.salesforce.revoked == ["RT-x", "AT-x"]
    assert w.store.state is not None and w.store.state.status is TokenStatus.IDENTITY_MISMATCH
    with pytest.raises(IdentityMismatchError):
        w.renewer.renew(None)
    assert len(w.salesforce.sent) == 1


# ------------------------------------------------------------------ an answer that never came
def test_a_lost_answer_is_resent_only_after_salesforce_says_the_token_is_unused() -> None:
    w = world(stored(expires_in=NEAR_END), GrantOutcomeUnknown("read timed out"), answer("AT2", refresh="RT2"),
              introspection=(True,))
    assert w.renewer.renew(None).refresh_token == "RT2"
    assert len(w.salesforce.sent) == 2 and w.salesforce.introspected == ["RT1"]


def test_a_lost_answer_whose_token_was_consumed_is_never_resent() -> None:
    w = world(stored(expires_in=NEAR_END), GrantOutcomeUnknown("connection reset"), introspection=(False,))
    with pytest.raises(RefreshAnswerLostError, match="rotated the refresh token"):
        w.renewer.renew(None)
    assert len(w.salesforce.sent) == 1
    assert w.store.state is not None and w.store.state.status is TokenStatus.REVOKED


def test_a_lost_answer_with_introspection_down_keeps_the_marker_and_checks_first_next_time() -> None:
    w = world(stored(expires_in=NEAR_END), GrantOutcomeUnknown("read timed out"), answer("AT2"),
              introspection=(None, True))
    with pytest.raises(SalesforceUnreachableError, match="Nothing was re-sent") as error:
        w.renewer.renew(None)
    assert error.value.grant_unresolved and len(w.salesforce.sent) == 1
    assert w.store.state is not None and w.store.state.unconfirmed_grant == fingerprint("RT1")
    assert w.renewer.renew(None).access_token == "AT2"
    assert w.salesforce.introspected == ["RT1", "RT1"]  # checked before the second request went out


def test_a_lost_answer_without_the_consumer_secret_stops() -> None:
    w = world(stored(expires_in=NEAR_END), GrantOutcomeUnknown("read timed out"), introspection=(None,),
              creds=credentials(secret=None))
    with pytest.raises(RefreshOutcomeUnknownError, match="Add the Consumer Secret"):
        w.renewer.renew(None)
    assert len(w.salesforce.sent) == 1


def test_two_lost_answers_in_a_row_stop_after_the_second() -> None:
    w = world(stored(expires_in=NEAR_END), GrantOutcomeUnknown("a"), GrantOutcomeUnknown("b"),
              introspection=(True, True))
    with pytest.raises(SalesforceUnreachableError, match="two requests in a row"):
        w.renewer.renew(None)
    assert len(w.salesforce.sent) == 2


def test_a_renewer_that_crashed_mid_grant_is_resolved_before_anything_is_sent() -> None:
    crashed = stored(expires_in=NEAR_END, unconfirmed_grant=fingerprint("RT1"))
    w = world(crashed, introspection=(False,))
    with pytest.raises(RefreshAnswerLostError, match=UNFINISHED_RENEWAL[:40]):
        w.renewer.renew(None)
    assert w.salesforce.sent == []
    w = world(crashed, answer("AT2"), introspection=(True,))
    assert w.renewer.renew(None).access_token == "AT2" and len(w.salesforce.sent) == 1


# ------------------------------------------------------------------ flows without a refresh token
def test_a_machine_flow_gets_its_first_token_itself_and_is_never_marked_revoked() -> None:
    w = world(None, answer("AT-jwt", issued_at=NOW), creds=credentials("jwt_bearer"), auto_setup=True)
    first = w.renewer.renew(None)
    assert first.access_token == "AT-jwt" and first.refresh_used_at == 0.0
    assert [grant.grant for grant in w.salesforce.sent] == [Grant.JWT_BEARER]
    w.clock.now += LIFETIME  # expired
    w.salesforce.outcomes.append(TokenRevokedError("user hasn't approved this consumer"))
    with pytest.raises(TokenRevokedError):
        w.renewer.renew(None)
    assert w.store.state is not None and w.store.state.status is TokenStatus.ACTIVE
    assert "approved" in (w.store.state.last_failure or "")


def test_the_authorization_code_is_never_resent() -> None:
    w = world(None, GrantOutcomeUnknown("read timed out"))
    with pytest.raises(SalesforceUnreachableError, match="cannot be used twice"):
        w.renewer.minter.exchange_code("code", "v" * 43, "https://airflow.example/sf360/callback")
    assert len(w.salesforce.sent) == 1 and w.salesforce.introspected == []


@pytest.mark.parametrize("error", [SalesforceUnreachableError("down"), SF360Error("other")])
def test_any_other_failure_keeps_the_token_and_notes_it(error: SF360Error) -> None:
    w = world(stored(expires_in=NEAR_END), error)
    with pytest.raises(type(error)):
        w.renewer.renew(None)
    assert w.store.state is not None and w.store.state.status is TokenStatus.ACTIVE
    assert w.store.state.last_failure == str(error) and w.store.state.last_failure_at == NOW


# ------------------------------------------------------------------ the refresh_token flow (a pasted seed)
def test_a_pasted_refresh_token_is_redeemed_once_and_remembered() -> None:
    creds = credentials("refresh_token", refresh_token="SEED1")
    w = world(None, answer("AT1", refresh="RT-rotated"), creds=creds, auto_setup=True)
    first = w.renewer.renew(None)
    assert first.seed_hash == fingerprint("SEED1") and first.refresh_token == "RT-rotated"
    assert w.salesforce.sent[0].form["refresh_token"] == "SEED1"


def test_a_spent_seed_whose_family_is_gone_is_refused_before_any_call() -> None:
    creds = credentials("refresh_token", refresh_token="SEED1")
    w = world(None, creds=creds)
    spent = w.renewer.minter.spent_seed_marker(stored(seed_hash=fingerprint("SEED1"), auth_flow="refresh_token"))
    w.store.save(spent)  # what a reset left
    with pytest.raises(SF360Error, match="already redeemed"):
        w.renewer.minter.refuse_spent_seed(w.store.state)
    assert w.salesforce.sent == []
