"""Token state of releases before 0.2 (kept per org, user and app) moves to its connection's own key, once."""

from __future__ import annotations

from airflow.models.variable import Variable

from airflow_provider_sf360.core.state_keys import token_key
from airflow_provider_sf360.store.legacy_keys import legacy_key, migrate_legacy_token_states
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, actions_for, set_up_web_flow


def _as_legacy(conn_id: str) -> str:
    """Put the connection's state back under the key an older release used; returns that key."""
    creds = actions_for(conn_id).hook.credentials
    old = legacy_key(creds.org_id, creds.user_id, creds.consumer_key, creds.login_url)
    Variable.set(old, Variable.get(token_key(conn_id)))
    Variable.delete(token_key(conn_id))
    return old


def test_a_legacy_state_moves_to_the_connection_it_was_set_up_for(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    owner = make_connection("authorization_code", conn_id="sf360_owner")
    copy = make_connection("authorization_code", conn_id="sf360_copy", secret=False)  # the same public fields
    set_up_web_flow(emulator, actions_for(owner))
    old = _as_legacy(owner)
    assert migrate_legacy_token_states() == 1
    assert Variable.get(old, default_var=None) is None
    assert actions_for(owner).test_access().ok  # the same token, no new sign-in
    assert actions_for(copy).status()["status"] == "not_set_up"  # implicit sharing is not carried over
    assert migrate_legacy_token_states() == 0  # once


def test_a_legacy_state_of_an_edited_connection_is_left_as_an_orphan(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    conn_id = make_connection("authorization_code", conn_id="sf360_edited")
    set_up_web_flow(emulator, actions_for(conn_id))
    old = _as_legacy(conn_id)
    make_connection("authorization_code", conn_id="sf360_edited", user_id="0055e000001XyZbAAK")
    assert migrate_legacy_token_states() == 0
    assert Variable.get(old, default_var=None) is not None
