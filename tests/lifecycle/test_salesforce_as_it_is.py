"""Salesforce as it really is (the emulator made strict): JWT on My Domain, documented answer shapes, errors that
are not revocations, the per-flow secret settings, idle refresh tokens, sandbox refreshes. Each test asserts what
the provider says and what Salesforce (the emulator) holds afterwards."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from airflow_provider_sf360.exceptions import (
    AdminActionRequiredError,
    LoginRestrictedError,
    TokenRevokedError,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, expire_cached_token, set_up_web_flow

DAY = 86_400.0


def _holding(emulator: SalesforceEmulator, user_id: str = world.DEFAULT_USER_ID) -> dict[str, Any]:
    entries = [e for e in emulator.holdings()["by_user_app"] if e["user_id"] == user_id]
    return entries[0] if entries else {"live_approvals": 0, "live_access_tokens": 0}


# ------------------------------------------------------------------ the JWT bearer flow
def test_jwt_posted_to_my_domain_signs_for_the_generic_audience(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    my_domain = emulator.my_domain_url(world.DEFAULT_ORG_ID)
    actions = actions_for(make_connection("jwt_bearer", login_url=my_domain))
    result = actions.setup()
    assert result.ok, result.message
    assert actions.test_access().ok
    state = actions.hook.lifecycle.stored_state()
    assert state is not None and state.issued_at > 0  # the JWT answer has no issued_at: the receipt time stands in
    assert emulator.request_counts()["token:jwt_bearer"] == 1


def test_an_experience_cloud_audience_is_signed_when_asked(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    site = "https://acme.my.site.com/partners"
    emulator.world.orgs[world.DEFAULT_ORG_ID].experience_site_urls = [site]
    my_domain = emulator.my_domain_url(world.DEFAULT_ORG_ID)
    assert actions_for(make_connection("jwt_bearer", login_url=my_domain, jwt_audience=site)).setup().ok
    other = make_connection("jwt_bearer", conn_id="sf360_wrong_site", login_url=my_domain,
                            jwt_audience="https://elsewhere.my.site.com")
    with pytest.raises(AdminActionRequiredError, match="JWT Audience"):
        actions_for(other).setup()


# ------------------------------------------------------------------ errors that are not revocations
def test_an_ip_restriction_keeps_the_refresh_token_and_the_next_run_works(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    before = actions.hook.lifecycle.stored_state()
    approvals = _holding(emulator)["live_approvals"]
    expire_cached_token(emulator, actions)
    emulator.restrict_login(world.DEFAULT_USER_ID, reason="login_ip_ranges")
    with pytest.raises(LoginRestrictedError) as failed:
        actions.hook.get_conn()
    assert "Login IP Ranges" in str(failed.value) and "External Client App Manager" in str(failed.value)
    kept = actions.hook.lifecycle.stored_state()
    assert kept is not None and kept.status.value == "active" and kept.refresh_token == before.refresh_token
    assert kept.last_failure and "ip restricted" in kept.last_failure and not kept.unconfirmed_grant
    assert emulator.holdings()["family_revocations"] == {} and _holding(emulator)["live_approvals"] == approvals
    emulator.lift_login_restriction(world.DEFAULT_USER_ID)
    assert actions.hook.get_conn().query("SELECT Id FROM Account LIMIT 1")["done"]  # no setup, no new approval
    assert _holding(emulator)["live_approvals"] == approvals
    assert actions.hook.lifecycle.stored_state().last_failure is None


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials"])
def test_machine_flows_are_never_marked_revoked(
    emulator: SalesforceEmulator, make_connection: ConnFactory, flow: str
) -> None:
    actions = actions_for(make_connection(flow))
    assert actions.setup().ok
    emulator.deactivate_user(world.DEFAULT_USER_ID)
    store = actions.hook.lifecycle.store  # our copy ends (Salesforce's clock stays: a JWT lives 3 minutes)
    store.save(replace(store.load(), expires_at=time.time() - 1))
    with pytest.raises(AdminActionRequiredError, match="no setup is needed afterwards"):
        actions.hook.get_conn()
    assert actions.hook.lifecycle.stored_state().status.value == "active"  # nothing marked revoked
    emulator.activate_user(world.DEFAULT_USER_ID)
    assert actions.test_access().ok  # works again without any setup


def test_refresh_without_the_secret_when_the_app_allows_it(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, require_secret_for_web_server_flow=False,
                     require_secret_for_refresh_token_flow=False)
    actions = actions_for(make_connection("authorization_code", secret=False))
    set_up_web_flow(emulator, actions)
    expire_cached_token(emulator, actions)
    assert actions.test_access().ok  # the refresh grant went without a secret
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, require_secret_for_refresh_token_flow=True)
    expire_cached_token(emulator, actions)
    with pytest.raises(AdminActionRequiredError, match="Require secret for Refresh Token Flow") as failed:
        actions.hook.get_conn()
    assert failed.value.case == "secret_required"
    assert actions.hook.lifecycle.stored_state().status.value == "active"  # the token is kept


# ------------------------------------------------------------------ idle refresh tokens
def _make_idle(emulator: SalesforceEmulator, actions: Any, days: float) -> None:
    """``days`` pass: Salesforce's clock moves on, and the stored token says its refresh token went unused."""
    emulator.advance_clock(days * DAY)
    store = actions.hook.lifecycle.store
    state = store.load()
    store.save(replace(state, refresh_used_at=state.refresh_used_at - days * DAY, expires_at=time.time() + 3600))


def test_the_connectivity_check_keeps_an_idle_refresh_token_alive(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused",
                     refresh_token_ttl=int(10 * DAY))
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    _make_idle(emulator, actions, 8)  # past keep_alive_days (7), within the app's 10 idle days
    tested = actions.test_access()
    assert tested.ok and tested.details["refresh_token_kept_alive"] is True
    _make_idle(emulator, actions, 8)  # 16 days since the setup, 8 since the last use: still alive
    assert actions.test_access().ok
    assert emulator.holdings()["family_revocations"] == {}


def test_an_idle_refresh_token_dies_without_the_keep_alive(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__KEEP_ALIVE_DAYS", "0")
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused",
                     refresh_token_ttl=int(10 * DAY))
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    _make_idle(emulator, actions, 11)
    expire_cached_token(emulator, actions)
    with pytest.raises(TokenRevokedError, match="expire if unused"):
        actions.hook.get_conn()


# ------------------------------------------------------------------ sandbox refresh
def test_the_first_failure_after_a_sandbox_refresh_says_what_changed(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    conn_id = make_connection(
        "authorization_code", org_id=world.DEFAULT_SANDBOX_ORG_ID, user_id=world.DEFAULT_SANDBOX_USER_ID,
        is_sandbox=True, login_url=emulator.test_url,
    )
    actions = actions_for(conn_id)
    set_up_web_flow(emulator, actions, username=world.DEFAULT_SANDBOX_USERNAME)
    refreshed = emulator.refresh_sandbox(world.DEFAULT_SANDBOX_ORG_ID)
    assert world.DEFAULT_SANDBOX_USER_ID in refreshed.kept_user_ids
    expire_cached_token(emulator, actions)
    with pytest.raises(TokenRevokedError) as failed:
        actions.hook.get_conn()
    message = str(failed.value)
    assert "new Org ID" in message and "keeps its User ID" in message and "must be recreated" in message
    assert message.index("sandbox") < message.index("set up the OAuth token again")
