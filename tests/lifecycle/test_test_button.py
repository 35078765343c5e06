"""Airflow's connection Test button (``test_connection``) and secret masking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, hook_for, set_up_web_flow


def _expire_locally(actions) -> None:  # type: ignore[no-untyped-def]
    import time

    state = actions.hook.lifecycle.store.load()
    actions.hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))


def test_button_reports_success_for_a_set_up_connection(emulator: SalesforceEmulator,
                                                        make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    ok, message = actions.hook.test_connection()
    assert ok and "Access test succeeded" in message


def test_button_never_redeems_a_refresh_token(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, rotation=True)
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    _expire_locally(actions)
    ok, message = actions.hook.test_connection()
    assert ok and emulator.request_counts().get("token:refresh_token", 0) == 0
    emulator.revoke_user_tokens(world.DEFAULT_USER_ID)
    ok, message = actions.hook.test_connection()
    assert not ok and "no longer active" in message
    assert emulator.request_counts().get("token:refresh_token", 0) == 0


def test_button_without_secret_explains_itself(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, require_secret=False)
    actions = actions_for(make_connection("authorization_code", secret=False))
    set_up_web_flow(emulator, actions)
    _expire_locally(actions)
    ok, message = actions.hook.test_connection()
    assert not ok and "never redeems" in message


def test_button_for_a_bad_connection_lists_fields(make_connection: ConnFactory) -> None:
    ok, message = hook_for(make_connection("jwt_bearer", username=None)).test_connection()
    assert not ok and "Salesforce Username: missing" in message


@pytest.mark.slow  # the airflow CLI in a subprocess
def test_airflow_connections_test_cli(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("jwt_bearer", conn_id="sf360_cli_test")
    actions_for(conn_id).setup()
    env = {**os.environ, "REQUESTS_CA_BUNDLE": emulator.ca_bundle}
    out = subprocess.run([str(Path(sys.executable).with_name("airflow")), "connections", "test", conn_id],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Connection success!" in out.stdout


def test_tokens_are_registered_with_the_secrets_masker(emulator: SalesforceEmulator,
                                                       make_connection: ConnFactory) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    state = actions.hook.lifecycle.store.load()
    for secret in (state.access_token, state.refresh_token):
        assert secret not in str(redact(f"token is {secret}"))
    assert state.access_token not in json.dumps(actions.test_access().to_dict())


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials"])
def test_machine_flows_auto_set_up_on_first_use(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                                flow: str) -> None:
    sf = hook_for(make_connection(flow)).get_conn()
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    sf2 = hook_for(make_connection(flow)).get_conn()  # a second task: the cached token, no token request
    sf2.query("SELECT Id FROM Account")
    assert emulator.request_counts()[f"token:{flow}"] == 1
