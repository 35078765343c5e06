"""No failed, repeated or abandoned action leaves a live token behind; messages name the one fix.

Every case also checks what Salesforce (the emulator) holds: live approvals and access tokens per user and app.
"""

from __future__ import annotations

import pytest

from airflow_provider_sf360.exceptions import (
    CredentialsInvalidError,
    IdentityMismatchError,
    NotSetUpError,
    TokenRevokedError,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import (
    ConnFactory,
    actions_for,
    expire_cached_token,
    hook_for,
    rotate_refresh_tokens,
    set_up_web_flow,
)

APP = world.DEFAULT_CONSUMER_KEY


def _held(emulator: SalesforceEmulator, user_id: str) -> tuple[int, int]:
    """(live approvals, live access tokens) of ``user_id`` for the default app."""
    for entry in emulator.holdings()["by_user_app"]:
        if entry["user_id"] == user_id and entry["consumer_key"] == APP:
            return entry["live_approvals"], entry["live_access_tokens"]
    return 0, 0


def test_signing_in_as_another_user_revokes_what_was_received(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    actions = actions_for(make_connection("authorization_code"))
    for _ in range(6):  # more than the five approvals per user and app
        with pytest.raises(IdentityMismatchError) as mismatch:
            set_up_web_flow(emulator, actions, username=world.DEFAULT_SECOND_USERNAME)
        assert "Nothing was stored" in str(mismatch.value)
        assert _held(emulator, world.DEFAULT_SECOND_USER_ID) == (0, 0)  # nothing left alive at Salesforce
    assert actions.hook.lifecycle.store.load() is None
    assert emulator.holdings()["family_revocations"].get("approval_limit", 0) == 0  # no approval was evicted


def test_a_wrong_identity_at_renewal_revokes_the_new_tokens(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    actions = actions_for(make_connection("jwt_bearer"))
    assert actions.setup().ok
    # A second connection names another user but signs JWTs for the first one: every token it gets is someone
    # else's, and must not stay alive at Salesforce.
    other = hook_for(make_connection("jwt_bearer", conn_id="sf360_other", user_id=world.DEFAULT_SECOND_USER_ID))
    for _ in range(3):
        with pytest.raises(IdentityMismatchError):
            other.get_conn()
    assert _held(emulator, world.DEFAULT_USER_ID)[1] == 1  # only the token the first connection keeps


def test_reset_with_setup_again_never_re_presents_a_spent_seed(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    rotate_refresh_tokens(emulator)
    web = hook_for(make_connection("authorization_code", conn_id="sf360_seed_source"))
    set_up_web_flow(emulator, web)
    seed = web.lifecycle.store.load().refresh_token
    web.lifecycle.store.clear()  # the seed now belongs to the refresh_token connection alone
    actions = actions_for(make_connection("refresh_token", refresh_token=seed))
    assert actions.setup().ok
    grants = emulator.request_counts()["token:refresh_token"]
    with pytest.raises(CredentialsInvalidError) as spent:
        actions.reset(setup_again=True)
    assert "Refresh Token" in str(spent.value) and "Paste a new refresh token" in str(spent.value)
    assert emulator.request_counts()["token:refresh_token"] == grants  # refused before calling Salesforce
    assert actions.hook.lifecycle.store.load().status.value == "active"  # nothing was revoked or lost
    assert actions.reset().ok
    with pytest.raises(CredentialsInvalidError):
        actions_for(actions.conn_id).setup()
    with pytest.raises(NotSetUpError):
        hook_for(actions.conn_id).get_conn()
    assert emulator.request_counts()["token:refresh_token"] == grants
    assert emulator.holdings()["reuse_detections"] == 0
    assert _held(emulator, world.DEFAULT_USER_ID) == (0, 0)


def test_a_refreshed_sandbox_is_named_in_the_first_message(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__SANDBOX_LOGIN_URL", emulator.test_url)
    actions = actions_for(make_connection("authorization_code", is_sandbox=True, login_url=None,
                                    org_id=world.DEFAULT_SANDBOX_ORG_ID, user_id=world.DEFAULT_SANDBOX_USER_ID))
    set_up_web_flow(emulator, actions, username=world.DEFAULT_SANDBOX_USERNAME)
    emulator.refresh_sandbox(world.DEFAULT_SANDBOX_ORG_ID)
    expire_cached_token(emulator, actions)
    with pytest.raises(TokenRevokedError) as revoked:
        actions.hook.get_conn()
    message = str(revoked.value)
    assert "This is a sandbox connection: if the sandbox was refreshed, it now has a new Org ID" in message
    assert message.index("sandbox was refreshed") < message.index("Salesforce no longer accepts")  # named first
    assert "Setup > Company Information" in message and "then enter its new User ID" in message
    assert message.lower().count("revoked or expired") <= 1


def test_the_test_button_names_no_temporary_id_and_stores_nothing(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os

    real = make_connection("authorization_code", conn_id="sf360_real")
    actions_for(real).test_access()  # the real connection's last result: not set up
    recorded = hook_for(real).status()["last_test"]
    temporary = "Ur8c5Lnh"
    monkeypatch.setenv(f"AIRFLOW_CONN_{temporary.upper()}", os.environ[f"AIRFLOW_CONN_{real.upper()}"])
    ok, message = hook_for(temporary).test_connection()
    assert not ok and temporary not in message and "this connection" in message.lower()
    assert json.dumps(hook_for(real).status()["last_test"]) == json.dumps(recorded)


def test_editing_the_user_id_makes_the_old_token_unusable_and_setting_up_again_revokes_it(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    """The token is the connection's (its key comes from the conn id), but it was issued for the old fields: after
    an edit of the User ID it is "not set up" for the connection (never presented for the new user), the
    connection still owns it (not an orphan), and the next setup revokes the old family at Salesforce."""
    from airflow_provider_sf360.service.fleet import orphans

    conn_id = make_connection("authorization_code")
    set_up_web_flow(emulator, actions_for(conn_id))
    old = hook_for(conn_id).lifecycle.store.load()
    assert old is not None
    assert _held(emulator, world.DEFAULT_USER_ID) == (1, 1)
    # The admin edits the connection to act as another user.
    make_connection("authorization_code", conn_id=conn_id, user_id=world.DEFAULT_SECOND_USER_ID)
    counts = emulator.request_counts()
    with pytest.raises(NotSetUpError, match="were edited since"):
        hook_for(conn_id).get_conn()
    tested = actions_for(conn_id).test_access()
    assert not tested.ok and tested.status == "not_set_up" and "Set up the OAuth token again" in tested.message
    assert emulator.request_counts() == counts  # the old token was never presented for the new user
    assert orphans() == []  # the connection still owns its state
    status = actions_for(conn_id).status()
    assert status["status"] == "not_set_up" and "edited since" in status["status_detail"]
    assert _held(emulator, world.DEFAULT_USER_ID) == (1, 1)  # alive until it is replaced or reset
    # Setting up again revokes the old family at Salesforce.
    result = set_up_web_flow(emulator, actions_for(conn_id), username=world.DEFAULT_SECOND_USERNAME)
    assert result.ok and result.details["previous_token_revoked"] is True
    assert result.details["token"]["user_id"] == world.DEFAULT_SECOND_USER_ID
    assert _held(emulator, world.DEFAULT_USER_ID) == (0, 0)
    assert emulator.world.access_token_alive(old.access_token) is None
    assert _held(emulator, world.DEFAULT_SECOND_USER_ID) == (1, 1)
    assert orphans() == []
    assert actions_for(conn_id).test_access().ok
