"""Grant details the restructuring changed, against the emulator: the JWT audience is the generic login host
whatever host the assertion is posted to, and an access test keeps an idle refresh token alive
(``[sf360] keep_alive_days``) under an app's "expire if unused" policy."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from airflow_provider_sf360.core.grants import jwt_claims
from airflow_provider_sf360.exceptions import TokenRevokedError
from airflow_provider_sf360.service.actions import SF360Actions
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, set_up_web_flow

DAY = 86_400


def test_jwt_audience_is_the_login_host_even_when_posted_to_my_domain(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    my_domain = emulator.my_domain_url(world.DEFAULT_ORG_ID)
    actions = actions_for(make_connection("jwt_bearer", login_url=my_domain))
    assert actions.hook.credentials.token_url.startswith(my_domain)
    assert jwt_claims(actions.hook.credentials)["aud"] == "https://login.salesforce.com"
    result = actions.setup()
    assert result.ok, result.message  # Salesforce refuses a My Domain audience ("audience is invalid")
    assert emulator.request_counts()["token:jwt_bearer"] == 1

    monkeypatch.setenv("AIRFLOW__SF360__SANDBOX_LOGIN_URL", emulator.test_url)
    sandbox = actions_for(make_connection("jwt_bearer", conn_id="sf360_jwt_sandbox", is_sandbox=True,
                                          login_url=None, org_id=world.DEFAULT_SANDBOX_ORG_ID,
                                          user_id=world.DEFAULT_SANDBOX_USER_ID,
                                          username=world.DEFAULT_SANDBOX_USERNAME))
    assert jwt_claims(sandbox.hook.credentials)["aud"] == "https://test.salesforce.com"


def _idle_since(actions: SF360Actions, days: float) -> None:
    """Our side of the clock: the refresh token was last redeemed ``days`` ago."""
    state = actions.hook.lifecycle.store.load()
    assert state is not None
    actions.hook.lifecycle.store.save(replace(state, refresh_used_at=time.time() - days * DAY))


def _expire_locally(actions: SF360Actions) -> None:
    state = actions.hook.lifecycle.store.load()
    assert state is not None
    actions.hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))


def test_an_access_test_keeps_an_idle_refresh_token_alive(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app ends a refresh token unused for 10 days; access tokens live 30 days (so a test needs no renewal).
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, refresh_token_policy="expire_if_unused",
                     refresh_token_ttl=10 * DAY, session_timeout=30 * DAY)
    kept = actions_for(make_connection("authorization_code", conn_id="sf360_kept_alive"))
    set_up_web_flow(emulator, kept)
    monkeypatch.setenv("AIRFLOW__SF360__KEEP_ALIVE_DAYS", "0")  # 0 turns it off
    idle = actions_for(make_connection("authorization_code", conn_id="sf360_left_idle"))
    set_up_web_flow(emulator, idle)
    assert idle.hook.lifecycle.keep_alive_after is None
    monkeypatch.delenv("AIRFLOW__SF360__KEEP_ALIVE_DAYS")
    assert kept.hook.lifecycle.keep_alive_after == 7 * DAY  # the default

    emulator.advance_clock(8 * DAY)  # 8 days without a renewal, at Salesforce and here
    _idle_since(kept, 8)
    _idle_since(idle, 8)
    grants = emulator.request_counts().get("token:refresh_token", 0)
    result = kept.test_access()
    assert result.ok and result.details["refresh_token_kept_alive"] is True
    assert emulator.request_counts()["token:refresh_token"] == grants + 1  # redeemed once on the way
    assert kept.hook.lifecycle.store.load().refresh_used_at > time.time() - 60
    result = idle.test_access()
    assert result.ok and result.details["refresh_token_kept_alive"] is False
    assert emulator.request_counts()["token:refresh_token"] == grants + 1
    again = kept.test_access()  # used just now: not redeemed again
    assert again.ok and again.details["refresh_token_kept_alive"] is False
    assert emulator.request_counts()["token:refresh_token"] == grants + 1

    emulator.advance_clock(8 * DAY)  # 16 days since setup; the kept token was used 8 days ago
    for actions in (kept, idle):
        _expire_locally(actions)
    assert kept.hook.get_conn().query("SELECT Id FROM Account LIMIT 1")["done"]
    with pytest.raises(TokenRevokedError, match="expire if unused for"):
        idle.hook.get_conn().query("SELECT Id FROM Account LIMIT 1")
    assert idle.status()["status"] == "revoked" and kept.status()["status"] == "active"
    assert emulator.holdings()["reuse_detections"] == 0
