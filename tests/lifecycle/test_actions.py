"""The four actions and token acquisition per flow, over HTTPS against the emulator, state in real Variables."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.grants import code_grant
from airflow_provider_sf360.exceptions import (
    AuthorizationDeniedError,
    IdentityMismatchError,
    NotSetUpError,
    TokenRevokedError,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, hook_for, set_up_web_flow


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials"])
def test_machine_flows_set_up_and_test_access(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                              flow: str) -> None:
    actions = actions_for(make_connection(flow))
    result = actions.setup()
    assert result.ok and result.status == "active"
    assert result.details["token"]["org_id"] == world.DEFAULT_ORG_ID
    tested = actions.test_access()
    assert tested.ok, tested.message
    assert tested.details["username"] == world.DEFAULT_USERNAME
    assert tested.details["api_version"] == "64.0" and tested.details["round_trip_ms"] >= 0
    assert emulator.request_counts()[f"token:{flow}"] == 1


def test_web_server_flow_with_pkce(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    started = actions.setup()
    assert not started.ok and started.status == "authorization_required"
    url = started.details["authorize_url"]
    assert "code_challenge_method=S256" in url and "code_verifier" not in url
    result = actions.complete_authorization(emulator.authorize_headless(url))
    assert result.ok
    assert actions.test_access().ok
    assert actions.status()["status"] == "active"


def test_web_server_flow_public_client_without_secret(emulator: SalesforceEmulator,
                                                      make_connection: ConnFactory) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, require_secret=False)
    actions = actions_for(make_connection("authorization_code", secret=False))
    assert set_up_web_flow(emulator, actions).ok
    assert actions.hook.get_conn().query("SELECT Id FROM Account LIMIT 1")["done"]


def test_refresh_token_flow_redeems_the_seed(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    seed_actions = actions_for(make_connection("authorization_code", conn_id="seed_source"))
    set_up_web_flow(emulator, seed_actions)
    seed = seed_actions.hook.lifecycle.store.load().refresh_token
    seed_actions.hook.lifecycle.store.clear()  # the seed now lives only in the other connection
    actions = actions_for(make_connection("refresh_token", refresh_token=seed))
    assert actions.setup().ok
    assert actions.test_access().ok
    assert emulator.request_counts()["token:refresh_token"] >= 1


def test_denied_consent_changes_nothing(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    redirect = emulator.authorize_headless(actions.start_authorization(), allow=False)
    with pytest.raises(AuthorizationDeniedError, match="access_denied"):
        actions.complete_authorization(redirect)
    assert actions.status()["status"] == "not_set_up"


def test_forged_and_replayed_state_are_refused(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    redirect = emulator.authorize_headless(actions.start_authorization())
    forged = redirect.replace("state=", "state=x")
    with pytest.raises(AuthorizationDeniedError, match="state"):
        actions.complete_authorization(forged)
    assert actions.complete_authorization(redirect).ok
    with pytest.raises(AuthorizationDeniedError, match="already used"):
        actions.complete_authorization(redirect)


def test_identity_mismatch_stores_nothing(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    with pytest.raises(IdentityMismatchError) as err:
        set_up_web_flow(emulator, actions, username=world.DEFAULT_SECOND_USERNAME)
    assert world.DEFAULT_SECOND_USER_ID in str(err.value) and world.DEFAULT_USER_ID in str(err.value)
    assert "another Salesforce user signed in" in str(err.value)
    assert isinstance(err.value, AirflowFailException)
    assert actions.status()["status"] == "not_set_up"


def test_jwt_for_another_user_is_a_mismatch(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("jwt_bearer", user_id=world.DEFAULT_SECOND_USER_ID))
    with pytest.raises(IdentityMismatchError):
        actions.setup()


def test_failed_setup_keeps_the_working_token(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    before = actions.hook.lifecycle.store.load()
    with pytest.raises(IdentityMismatchError):
        set_up_web_flow(emulator, actions, username=world.DEFAULT_SECOND_USERNAME)
    assert actions.hook.lifecycle.store.load() == before
    assert actions.test_access().ok


def test_not_set_up_is_reported_with_the_fix(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    result = actions.test_access()
    assert not result.ok and result.status == "not_set_up"
    assert "Set up the OAuth token" in result.message
    with pytest.raises(NotSetUpError):
        actions.hook.get_conn()


def test_reset_revokes_and_keeps_fields(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    actions = actions_for(conn_id)
    set_up_web_flow(emulator, actions)
    old = actions.hook.lifecycle.store.load()
    result = actions.reset()
    assert result.ok and result.details["revoked"] and result.status == "not_set_up"
    assert actions.status()["status"] == "not_set_up"
    assert hook_for(conn_id).credentials == actions.hook.credentials  # every field intact
    assert emulator.world.access_token_alive(old.access_token) is None


def test_reset_with_setup_again_rotates(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("jwt_bearer"))
    actions.setup()
    old = actions.hook.lifecycle.store.load()
    result = actions.reset(setup_again=True)
    assert result.ok and result.action == "reset" and result.details["revoked"]
    new = actions.hook.lifecycle.store.load()
    assert new.access_token != old.access_token
    assert actions.test_access().ok


def test_delete_revokes_everything(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    actions.test_access()
    old = actions.hook.lifecycle.store.load()
    result = actions.delete()
    assert result.ok and result.details == {"revoked": True, "token_removed": True}
    assert "Consumer Secret" in result.message  # says how to remove the connection's own secrets
    assert actions.status() == {**actions.status(), "status": "not_set_up", "last_test": None}
    assert emulator.world.access_token_alive(old.access_token) is None
    assert actions.test_access().status == "not_set_up"


def test_resetup_revokes_previous_refresh_token(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    """Five approvals per user and app: re-running setup must not pile up approvals."""
    actions = actions_for(make_connection("authorization_code"))
    tokens = []
    for _ in range(6):
        result = set_up_web_flow(emulator, actions)
        assert result.ok
        tokens.append(actions.hook.lifecycle.store.load().refresh_token)
    assert all(r.details["previous_token_revoked"] for r in [result])
    # Only the newest refresh token still works; no approval was evicted by the sixth setup.
    assert actions.test_access().ok
    for old in tokens[:-1]:
        assert actions.hook.oauth_client.introspect_active(old) is False
    assert actions.hook.oauth_client.introspect_active(tokens[-1]) is True


def test_sixth_approval_elsewhere_evicts_ours(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    """Salesforce's limit as other tools meet it: five newer approvals revoke our refresh token."""
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    state = actions.hook.lifecycle.store.load()
    client, redirect = actions.hook.oauth_client, world.DEFAULT_CALLBACK_URLS[0]
    for _ in range(5):  # another tool authorizing the same user and app, keeping its tokens elsewhere
        url, verifier = client.authorization_request(redirect, "other-tool")
        code = parse_qs(urlsplit(emulator.authorize_headless(url)).query)["code"][0]
        client.request_token(code_grant(actions.hook.credentials, code, verifier, redirect))
    emulator.advance_clock(state.expires_at - state.issued_at + 1)
    evicted = r"a sixth approval of the same user and app evicted it.*Set up the OAuth token again"
    with pytest.raises(TokenRevokedError, match=evicted):
        actions.hook.get_conn().query("SELECT Id FROM Account")
    assert actions.status()["status"] == "revoked"
