"""A token belongs to its connection id, never to the connection's public fields.

Anyone who may create a connection can copy an org, user, Consumer Key and Login URL, but not the connection:
a copy gets "not set up" and cannot test, use or reset the owner's token. Sharing is explicit (``share_with``,
``sf360 share``) and an un-shared link fails with a message naming the fix. A connection with invalid fields still
owns its state (it is no orphan) and Delete revokes and removes it. The form's Test button, which runs under a
temporary conn id, finds the saved connection whose fields (at least one secret among them) are identical.
Every case checks what Salesforce (the emulator) holds and what the metadata DB holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_sf360.core.state_keys import status_key, token_key
from airflow_provider_sf360.exceptions import NotSetUpError, PermanentError
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, expire_cached_token, hook_for, set_up_web_flow

APP = world.DEFAULT_CONSUMER_KEY


def _held(emulator: SalesforceEmulator, user_id: str = world.DEFAULT_USER_ID) -> tuple[int, int]:
    """(live approvals, live access tokens) of ``user_id`` for the default app."""
    for entry in emulator.holdings()["by_user_app"]:
        if entry["user_id"] == user_id and entry["consumer_key"] == APP:
            return entry["live_approvals"], entry["live_access_tokens"]
    return 0, 0


def _variable(key: str) -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(key, default_var=None)


def _audit_outcomes(event: str, conn_id: str) -> list[str]:
    """Outcomes of the audit-log rows ``sf360.<event>`` about ``conn_id`` (metadata DB)."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Log.extra).where(Log.event == f"sf360.{event}")).all()
    extras = [json.loads(extra) for extra in rows if extra]
    return [extra["outcome"] for extra in extras if extra.get("conn_id") == conn_id]


@pytest.fixture
def db_connection(emulator: SalesforceEmulator) -> Iterator[ConnFactory]:
    """An ``sf360`` connection saved in the metadata DB (as the UI saves it); removed afterwards."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    made: list[str] = []

    def make(flow: str = "authorization_code", conn_id: str = "sf360_owned", *, secret: bool = True,
             **extra: Any) -> str:
        fields = emulator.sf360_connection(flow, secret=secret, **extra)
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            session.add(Connection(conn_id=conn_id, conn_type="sf360", login=fields["login"],
                                   password=fields["password"], extra=json.dumps(fields["extra"])))
        made.append(conn_id)
        return conn_id

    yield make
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id.in_(made)))


# ------------------------------------------------------------------ a copy of the public fields
def test_a_copy_of_the_public_fields_reaches_nothing(emulator: SalesforceEmulator,
                                                     make_connection: ConnFactory) -> None:
    owner = make_connection("authorization_code", conn_id="sf360_owner")
    assert set_up_web_flow(emulator, actions_for(owner)).ok
    owned = hook_for(owner).lifecycle.store.load()
    assert owned is not None and _held(emulator) == (1, 1)
    # Another conn id with the same org, user, Consumer Key and Login URL, and no secret.
    copy = make_connection("authorization_code", conn_id="sf360_copy", secret=False)
    assert hook_for(copy).credentials.app_fingerprint == hook_for(owner).credentials.app_fingerprint
    counts = emulator.request_counts()

    assert actions_for(copy).status()["status"] == "not_set_up"
    tested = actions_for(copy).test_access()
    assert not tested.ok and tested.status == "not_set_up" and "'sf360_copy'" in tested.message
    with pytest.raises(NotSetUpError, match="No OAuth token is set up for connection 'sf360_copy'"):
        hook_for(copy).get_conn()
    ok, message = hook_for(copy).test_connection()  # the Test button: public fields alone find no saved token
    assert not ok and "No OAuth token is set up" in message
    reset = actions_for(copy).reset()
    assert reset.ok and reset.details["revoked"] is False  # it had nothing to revoke
    deleted = actions_for(copy).delete()
    assert deleted.ok and deleted.details == {"revoked": False, "token_removed": False}
    assert emulator.request_counts() == counts  # the owner's token was never presented or revoked

    assert hook_for(owner).lifecycle.store.load() == owned
    assert _held(emulator) == (1, 1)
    assert _variable(token_key(copy)) is None
    assert actions_for(owner).test_access().ok


# ------------------------------------------------------------------ explicit sharing
def test_explicit_sharing_lets_another_connection_use_and_renew_the_token(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    owner = make_connection("authorization_code", conn_id="sf360_share_owner")
    target = make_connection("authorization_code", conn_id="sf360_share_target")  # it renews: it needs the secret
    set_up_web_flow(emulator, actions_for(owner))

    shared = actions_for(owner).share_with(target)
    assert shared.ok and shared.action == "share" and shared.details == {"shared_with": [target]}
    assert json.loads(_variable(token_key(target)) or "") == {"shared_from": owner}  # a link, no token
    assert hook_for(owner).lifecycle.store.load().shared_with == (target,)
    assert actions_for(owner).status()["shared_with"] == [target]
    assert _audit_outcomes("share", owner)[-1:] == ["success"]

    assert actions_for(target).test_access().ok
    assert hook_for(target).get_conn().query("SELECT Id FROM Account LIMIT 1")["done"]
    # The target renews the one token: the owner sees the renewed token, nothing is reused or left alive.
    expire_cached_token(emulator, hook_for(target))
    grants = emulator.request_counts().get("token:refresh_token", 0)
    assert hook_for(target).get_conn().query("SELECT Id FROM Account LIMIT 1")["done"]
    assert emulator.request_counts()["token:refresh_token"] == grants + 1
    renewed = hook_for(owner).lifecycle.store.load()
    assert renewed is not None and emulator.world.access_token_alive(renewed.access_token) is not None
    assert renewed.shared_with == (target,)
    assert emulator.holdings()["reuse_detections"] == 0 and _held(emulator)[0] == 1
    # A new sign-in of the owner keeps the share.
    set_up_web_flow(emulator, actions_for(owner))
    assert actions_for(target).test_access().ok and _held(emulator) == (1, 1)


def test_sharing_is_refused_across_identities_and_over_a_token_of_its_own(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    owner = make_connection("authorization_code", conn_id="sf360_share_owner")
    other_user = make_connection("authorization_code", conn_id="sf360_share_other_user",
                                 user_id=world.DEFAULT_SECOND_USER_ID)
    other_app = make_connection("authorization_code", conn_id="sf360_share_other_app",
                                login_url=emulator.my_domain_url(world.DEFAULT_ORG_ID))
    own_token = make_connection("jwt_bearer", conn_id="sf360_share_own_token")
    never_set_up = make_connection("authorization_code", conn_id="sf360_share_unset")

    with pytest.raises(PermanentError, match="has no OAuth token to share: set it up first"):
        actions_for(owner).share_with(never_set_up)
    assert _audit_outcomes("share", owner)[-1:] == ["failed"]
    set_up_web_flow(emulator, actions_for(owner))
    for target in (other_user, other_app):
        with pytest.raises(PermanentError, match="only identical credentials can share a token"):
            actions_for(owner).share_with(target)
    assert actions_for(own_token).setup().ok
    jwt_owner = make_connection("jwt_bearer", conn_id="sf360_share_jwt_owner")
    assert actions_for(jwt_owner).setup().ok
    with pytest.raises(PermanentError, match="has token state of its own: reset or delete it first"):
        actions_for(jwt_owner).share_with(own_token)
    for target in (other_user, other_app, never_set_up):
        assert _variable(token_key(target)) is None
    assert hook_for(owner).lifecycle.store.load().shared_with == ()


def test_a_link_the_owner_no_longer_shares_fails_with_the_fix(
    emulator: SalesforceEmulator, db_connection: ConnFactory
) -> None:
    owner = db_connection("authorization_code", conn_id="sf360_share_owner")
    target = db_connection("authorization_code", conn_id="sf360_share_target", secret=False)
    forged = db_connection("authorization_code", conn_id="sf360_share_forged", secret=False)
    set_up_web_flow(emulator, actions_for(owner))
    actions_for(owner).share_with(target)
    # A link the owner never granted (written by hand): it grants nothing.
    from airflow.models.variable import Variable

    Variable.set(token_key(forged), json.dumps({"shared_from": owner}))
    counts = emulator.request_counts()
    unshared = f"was given the OAuth token of connection '{owner}', which no longer shares it"
    with pytest.raises(NotSetUpError, match=unshared) as forged_error:
        hook_for(forged).get_conn()
    assert f"`sf360 share {owner} {forged}`" in str(forged_error.value)
    with pytest.raises(NotSetUpError, match=unshared):
        actions_for(forged).test_access()
    assert _audit_outcomes("test_access", forged)[-1:] == ["failed"]
    assert emulator.request_counts() == counts

    # The owner resets: its token is revoked and the share ends with it.
    assert actions_for(owner).reset().details["revoked"] is True
    assert _held(emulator) == (0, 0)
    with pytest.raises(NotSetUpError, match=unshared):
        hook_for(target).get_conn()
    from airflow_provider_sf360.service.fleet import fleet_status

    rows = {row.conn_id: row for row in fleet_status([owner, target]).rows}
    assert rows[target].shared_from == owner and rows[target].status_name == "not_set_up"
    assert rows[owner].shared_with == [] and rows[owner].status_name == "not_set_up"


# ------------------------------------------------------------------ invalid fields still own their state
def test_a_connection_with_invalid_fields_owns_its_state_and_delete_revokes_it(
    emulator: SalesforceEmulator, db_connection: ConnFactory
) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_sf360.exceptions import CredentialsInvalidError
    from airflow_provider_sf360.service.actions import SF360Actions
    from airflow_provider_sf360.service.audit import AirflowAuditLog
    from airflow_provider_sf360.service.fleet import fleet_status, orphans, prune

    conn_id = db_connection("authorization_code", conn_id="sf360_owned_invalid")
    set_up_web_flow(emulator, actions_for(conn_id))
    state = hook_for(conn_id).lifecycle.store.load()
    assert state is not None and _held(emulator) == (1, 1)
    with create_session() as session:  # an admin breaks the Org ID
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one()
        conn.set_extra(json.dumps({**conn.extra_dejson, "org_id": "not-an-org-id"}))

    with pytest.raises(CredentialsInvalidError):
        _ = hook_for(conn_id).credentials
    (row,) = fleet_status([conn_id]).rows
    assert row.status_name == "invalid" and row.state_key == token_key(conn_id)
    assert all(orphan.state_key != token_key(conn_id) for orphan in orphans())
    audit = AirflowAuditLog.for_user("admin", "cli")
    ok, message = prune(token_key(conn_id), audit)
    assert not ok and "a connection still owns it" in message
    assert _variable(token_key(conn_id)) is not None and _held(emulator) == (1, 1)

    result = SF360Actions(conn_id, audit=audit).delete()
    assert result.ok and result.details["token_removed"] is True
    assert "its fields are invalid" in result.message and "revoked at Salesforce" in result.message
    assert _variable(token_key(conn_id)) is None and _variable(status_key(token_key(conn_id))) is None
    assert _held(emulator) == (0, 0)
    assert emulator.world.access_token_alive(state.access_token) is None
    assert _audit_outcomes("delete", conn_id)[-1:] == ["success"]


# ------------------------------------------------------------------ the form's Test button
def test_the_test_button_finds_the_saved_connection_with_the_same_fields(
    emulator: SalesforceEmulator, db_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.connection import Connection

    from airflow_provider_sf360.store.connections import saved_connection_with_same_fields

    saved = db_connection("authorization_code", conn_id="sf360_saved")
    set_up_web_flow(emulator, actions_for(saved))
    last_test = actions_for(saved).test_access()
    assert last_test.ok
    recorded = actions_for(saved).status()["last_test"]
    fields = emulator.sf360_connection("authorization_code")

    def built(**changes: Any) -> Connection:  # what Airflow's Test button builds from the form
        extra = {**fields["extra"], **changes.pop("extra", {})}
        values = {"login": fields["login"], "password": fields["password"], **changes}
        return Connection(conn_id="Tmp8c5Lnh", conn_type="sf360", extra=json.dumps(extra), **values)

    assert saved_connection_with_same_fields(built()) == saved
    assert saved_connection_with_same_fields(built(extra={"api_version": "63.0"})) is None  # any field differs
    assert saved_connection_with_same_fields(built(password="another-secret")) is None
    assert saved_connection_with_same_fields(built(password=None)) is None  # public fields alone: never
    assert saved_connection_with_same_fields(built(extra={"callback_url": ""})) is None

    # The button itself: a temporary conn id with the saved connection's fields tests the saved token.
    temporary = "Tmp8c5Lnh"
    monkeypatch.setenv(f"AIRFLOW_CONN_{temporary.upper()}", json.dumps(fields))
    counts = emulator.request_counts()
    ok, message = hook_for(temporary).test_connection()
    assert ok, message
    assert temporary not in message and "Access test succeeded" in message
    assert emulator.request_counts().get("token:refresh_token", 0) == counts.get("token:refresh_token", 0)
    assert actions_for(saved).status()["last_test"] == recorded  # the button records nothing
    assert _variable(token_key(temporary)) is None
    # Without the secret, the same public fields reach nothing.
    monkeypatch.setenv(f"AIRFLOW_CONN_{temporary.upper()}", json.dumps({**fields, "password": None}))
    ok, message = hook_for(temporary).test_connection()
    assert not ok and "No OAuth token is set up for this connection" in message
