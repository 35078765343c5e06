"""Faults, expiry, revocation and sandbox refreshes: bounded retries, clear classified errors, no lost state."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.exceptions import (
    SalesforceUnreachableError,
    TokenRevokedError,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import FAST_RETRY, ConnFactory, actions_for, expire_cached_token, hook_for, set_up_web_flow

FAULT_KINDS = ["500", "503", "429", "drop", "malformed_json", "html_error"]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_transient_token_faults_are_retried(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                            kind: str) -> None:
    actions = actions_for(make_connection("jwt_bearer"))
    emulator.inject_fault("token", kind, count=FAST_RETRY.attempts - 1)
    assert actions.setup().ok
    assert emulator.request_counts()["token"] == FAST_RETRY.attempts


ANSWER_LOST_KINDS = ("drop", "malformed_json")  # a 200 that cannot be read is an answer lost too


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_persistent_faults_end_in_a_retryable_error_and_keep_state(
    emulator: SalesforceEmulator, make_connection: ConnFactory, kind: str
) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    expire_cached_token(emulator, actions)  # the next use must refresh
    before = actions.hook.lifecycle.store.load()
    emulator.inject_fault("token", kind, count=50)
    with pytest.raises(SalesforceUnreachableError) as err:
        actions.hook.get_conn()
    assert not isinstance(err.value, AirflowFailException)  # Airflow may retry the task
    if kind in ANSWER_LOST_KINDS:
        # The request went out and its answer was lost: never re-sent blindly. Introspection says the token was
        # not used, so it is sent once more; lost again, the task fails retryably with the token intact.
        assert "lost their answers" in str(err.value)
        assert emulator.request_counts()["token:refresh_token"] == 2
        assert emulator.request_counts()["introspect"] >= 2
    else:  # 5xx, 429, an HTML error page: Salesforce did not process the grant, so it is retried
        assert f"after {FAST_RETRY.attempts} attempts" in str(err.value)
        assert emulator.request_counts()["token:refresh_token"] == FAST_RETRY.attempts
    after = actions.hook.lifecycle.store.load()
    assert after is not None and after.last_failure == str(err.value)  # noted for the page
    assert before is not None and before.last_failure is None and after.last_failure_at >= before.set_up_at
    assert replace(after, last_failure=None, last_failure_at=0.0) == before  # nothing corrupted or lost
    assert emulator.holdings()["reuse_detections"] == 0
    emulator.clear_faults()
    assert actions.test_access().ok


def test_timeouts_are_transient(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:

    actions = actions_for(make_connection("jwt_bearer"))
    actions.hook.oauth_client.timeout = 0.3
    emulator.inject_fault("token", "delay", count=1, seconds=1.0)
    assert actions.setup().ok


@pytest.mark.parametrize("endpoint", ["identity", "rest"])
def test_test_access_faults_are_classified(emulator: SalesforceEmulator, make_connection: ConnFactory,
                                          endpoint: str) -> None:
    actions = actions_for(make_connection("jwt_bearer"))
    actions.setup()
    emulator.inject_fault(endpoint, "503", count=50)
    result = actions.test_access()
    assert not result.ok and result.status == "unreachable"
    assert "Salesforce could not be reached" in result.message


def test_permanent_failures_are_not_retried(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    emulator.revoke_user_tokens(world.DEFAULT_USER_ID)
    expire_cached_token(emulator, actions)
    with pytest.raises(TokenRevokedError) as err:
        actions.hook.get_conn()
    assert isinstance(err.value, AirflowFailException)
    assert emulator.request_counts()["token:refresh_token"] == 1


def test_expired_token_is_renewed_transparently(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, rotation=True)
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    sf = actions.hook.get_conn()
    sf.Account.create({"Name": "Before"})
    emulator.advance_clock(7200 + 1)  # the access token dies at Salesforce; our client has not noticed
    # Our expiry estimate still says "valid": the 401 INVALID_SESSION_ID path renews once and repeats the call.
    actions.hook.lifecycle.refresh_margin = -10_000
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 1
    assert emulator.request_counts()["token:refresh_token"] == 1
    assert emulator.reuse_detections == 0


@pytest.mark.slow  # 3,000 records through Bulk API 2.0
def test_bulk2_survives_expiry(emulator: SalesforceEmulator, make_connection: ConnFactory, tmp_path: Path) -> None:
    emulator.set_app(world.DEFAULT_CONSUMER_KEY, session_timeout=1)
    actions = actions_for(make_connection("jwt_bearer"))
    actions.hook.lifecycle.refresh_margin = -10_000  # rely on Salesforce's 401 alone
    actions.setup()
    sf = actions.hook.get_conn()
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("Ext__c,LastName\n" + "".join(f"E{i},Name{i}\n" for i in range(500)))
    time.sleep(1.2)
    results = sf.bulk2.Contact.upsert(csv_file=str(csv_file), external_id_field="Ext__c")
    assert sum(int(r["numberRecordsProcessed"]) for r in results) == 500
    assert emulator.request_counts()["token:jwt_bearer"] >= 2  # renewed on 401, once per expiry


def test_admin_revocation_mid_run(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    """The client recovers once (renewal attempt), then reports "revoked"; later tasks fail without network."""
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    sf = actions.hook.get_conn()
    sf.query("SELECT Id FROM Account")
    emulator.revoke_user_tokens(world.DEFAULT_USER_ID)
    with pytest.raises(TokenRevokedError, match=r"an admin or the user revoked it.*Set up the OAuth token again"):
        sf.query("SELECT Id FROM Account")
    assert actions.status()["status"] == "revoked"
    before = emulator.request_counts().get("token", 0)
    with pytest.raises(TokenRevokedError, match=r"(?i)set up the OAuth token again"):
        hook_for(actions.conn_id).get_conn()
    assert emulator.request_counts().get("token", 0) == before  # no retry storm
    result = actions.test_access()
    assert result.status == "revoked" and "set up the oauth token again" in result.message.lower()
    assert set_up_web_flow(emulator, actions).ok and actions.test_access().ok


def test_deactivated_user_of_a_machine_flow_needs_an_admin_not_a_setup(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    """JWT bearer and client credentials hold no token to lose: a refused grant is never "revoked"."""
    actions = actions_for(make_connection("jwt_bearer"))
    actions.setup()
    emulator.deactivate_user(world.DEFAULT_USER_ID)
    result = actions.test_access()
    assert not result.ok and result.status == "admin_action_required", result.message
    assert "deactivated, frozen or locked" in result.message and "no setup is needed afterwards" in result.message
    assert actions.status()["status"] != "revoked"
    emulator.activate_user(world.DEFAULT_USER_ID)
    assert actions.test_access().ok  # works again as soon as the admin reactivates the user


def test_deactivated_user_ends_a_refresh_token(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    actions = actions_for(make_connection("authorization_code"))
    set_up_web_flow(emulator, actions)
    emulator.deactivate_user(world.DEFAULT_USER_ID)
    expire_cached_token(emulator, actions)
    result = actions.test_access()
    assert not result.ok and result.status == "revoked", result.message
    assert actions.status()["status"] == "revoked"


def test_sandbox_refresh(emulator: SalesforceEmulator, make_connection: ConnFactory,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__SANDBOX_LOGIN_URL", emulator.test_url)
    actions = actions_for(make_connection("authorization_code", is_sandbox=True, login_url=None,
                                    org_id=world.DEFAULT_SANDBOX_ORG_ID, user_id=world.DEFAULT_SANDBOX_USER_ID))
    assert actions.hook.credentials.login_url == emulator.test_url
    set_up_web_flow(emulator, actions, username=world.DEFAULT_SANDBOX_USERNAME)
    assert actions.test_access().ok
    refreshed = emulator.refresh_sandbox(world.DEFAULT_SANDBOX_ORG_ID)
    result = actions.test_access()
    assert not result.ok and result.status in ("revoked", "identity_mismatch")
    assert "set up the oauth token again" in result.message.lower() or "sandbox" in result.message
    assert refreshed is not None


def test_wrong_sandbox_box_is_a_mismatch(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    # The connection names the sandbox org but the login host is production: Salesforce signs in a production user.
    actions = actions_for(make_connection("jwt_bearer", org_id=world.DEFAULT_SANDBOX_ORG_ID))
    with pytest.raises(Exception) as err:
        actions.setup()
    assert "sandbox" in str(err.value).lower() or "org" in str(err.value).lower()


def test_retry_policy_is_bounded() -> None:
    delays: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, max_delay=2.0, sleep=delays.append)
    from airflow_provider_sf360.core.retry import TransientFailureError

    def fail() -> None:
        raise TransientFailureError("HTTP 503", retry_after=30)

    with pytest.raises(Exception, match="after 4 attempts"):
        policy.run("probe", fail)
    assert len(delays) == 3 and max(delays) <= 2.0
