"""Soak: 200 random actions over three connections, checked after every step against a model.

Actions: set up (as the right user, and as the wrong one), reset, reset with set up again, test access, delete,
edit a connection's user, delete a connection with Airflow's own tools (its env var goes), an admin revoking a
user's tokens, and pruning orphaned token state. Invariants checked after every step, at Salesforce (the
emulator) and in Airflow:

- the provider's view matches the model (a connection has a token exactly when the model says it is set up; a
  token issued before the connection's user was edited is kept, owned by the connection, but never used);
- Salesforce holds exactly one live approval per token the model says is alive (connections and orphans), and
  never more than the token states the provider keeps;
- no approval is ever evicted by the five-approvals limit, and no refresh token is ever reused;
- after a prune no orphan is left, and then Salesforce holds no approval the provider does not know about.

Sandbox refreshes change the world's IDs and are covered by their own tests (test_resilience, test_lifecycle_
correctness), not mixed in here.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest

from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from tests.helpers.lifecycle import ConnFactory, actions_for, set_up_web_flow

pytestmark = pytest.mark.slow

ACTIONS = 200
SEED = 20261129
CONNECTIONS = ("sf360_soak_a", "sf360_soak_b", "sf360_soak_c")
USERS = {world.DEFAULT_USER_ID: world.DEFAULT_USERNAME, world.DEFAULT_SECOND_USER_ID: world.DEFAULT_SECOND_USERNAME}


@dataclass
class Model:
    """What should be true: which connections exist and whom they name, and which connections hold a live token
    for which user (token state belongs to a connection id; nothing is shared implicitly)."""

    user: dict[str, str] = field(default_factory=dict)  # conn id -> user id (absent: deleted)
    tokens: dict[str, str] = field(default_factory=dict)  # conn id -> user id its live token was issued for
    # conn id -> user id of a token an admin revoked while the connection named another user: the provider could
    # not learn it (it never presents a token for other fields), so it still holds it as active until its next use.
    stale: dict[str, str] = field(default_factory=dict)
    checks: int = 0
    violations: list[str] = field(default_factory=list)

    def set_up(self, conn_id: str) -> bool:
        return conn_id in self.user and self.tokens.get(conn_id) == self.user[conn_id]

    def believed(self, conn_id: str) -> bool:
        """Whether the provider holds an active token for the connection's current fields (live or stale)."""
        return self.set_up(conn_id) or (conn_id in self.user and self.stale.get(conn_id) == self.user[conn_id])

    def forget(self, conn_id: str) -> None:
        self.tokens.pop(conn_id, None)
        self.stale.pop(conn_id, None)

    def prune(self) -> None:
        """Orphans (tokens of connections that no longer exist) are revoked and removed."""
        for conn_id in [c for c in {*self.tokens, *self.stale} if c not in self.user]:
            self.forget(conn_id)


def _live_approvals(emulator: SalesforceEmulator) -> int:
    return sum(entry["live_approvals"] for entry in emulator.holdings()["by_user_app"])


def _token_states() -> int:
    """Token states the provider holds (set-up connections and orphans)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        keys = session.scalars(select(Variable.key).where(Variable.key.startswith("sf360_token__", autoescape=True)))
        return len(list(keys))


class Soak:
    def __init__(self, emulator: SalesforceEmulator, make_connection: ConnFactory, rng: random.Random) -> None:
        self.emulator = emulator
        self.make_connection = make_connection
        self.rng = rng
        self.model = Model()

    # ---------------------------------------------------------------- actions
    def create(self, conn_id: str, user_id: str) -> None:
        self.make_connection("authorization_code", conn_id=conn_id, user_id=user_id)
        self.model.user[conn_id] = user_id

    def setup(self, conn_id: str, right_user: bool) -> None:
        user_id = self.model.user[conn_id]
        signs_in = user_id if right_user else next(u for u in USERS if u != user_id)
        try:
            set_up_web_flow(self.emulator, actions_for(conn_id), username=USERS[signs_in])
        except SF360Error:
            assert not right_user, "a setup as the right user failed"
            return
        assert right_user, "a setup as the wrong user succeeded"
        self.model.forget(conn_id)
        self.model.tokens[conn_id] = user_id  # the token it replaces (any identity) is revoked

    def reset(self, conn_id: str, setup_again: bool) -> None:
        actions = actions_for(conn_id)
        result = actions.reset(setup_again=setup_again)
        self.model.forget(conn_id)
        if setup_again:
            assert result.details.get("authorize_url"), result.message
            redirect = self.emulator.authorize_headless(result.details["authorize_url"],
                                                        username=USERS[self.model.user[conn_id]])
            assert actions.complete_authorization(redirect).ok
            self.model.tokens[conn_id] = self.model.user[conn_id]

    def test(self, conn_id: str) -> None:
        result = actions_for(conn_id).test_access()
        assert result.ok == self.model.set_up(conn_id), result.message
        if self.model.believed(conn_id) and not self.model.set_up(conn_id):
            assert result.status == "revoked", result.message  # the provider learns it now
            self.model.stale.pop(conn_id)

    def delete(self, conn_id: str) -> None:
        assert actions_for(conn_id).delete().ok
        self.model.forget(conn_id)

    def delete_connection(self, conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
        self.model.user.pop(conn_id, None)

    def admin_revokes(self, conn_id: str) -> None:
        user_id = self.model.user[conn_id]
        self.emulator.revoke_user_tokens(user_id)
        for holder in [c for c, u in self.model.tokens.items() if u == user_id]:
            del self.model.tokens[holder]
            if self.model.user.get(holder) == user_id:
                assert actions_for(holder).test_access().status == "revoked"  # the provider learns it at next use
            else:  # edited or deleted since: its token is never presented, so the provider cannot learn it yet
                self.model.stale[holder] = user_id

    def prune(self) -> None:
        from airflow_provider_sf360.service.audit import AirflowAuditLog
        from airflow_provider_sf360.service.fleet import orphans, prune

        for orphan in orphans():
            ok, message = prune(orphan.state_key, AirflowAuditLog.for_user("soak", "cli"))
            assert ok, message
        self.model.prune()
        self.check("no orphan after prune", orphans() == [])
        self.check("no approval unknown to the provider after prune",
                   _live_approvals(self.emulator) == len(self.model.tokens))

    # ---------------------------------------------------------------- invariants
    def check(self, what: str, holds: bool) -> None:
        self.model.checks += 1
        if not holds:
            self.model.violations.append(what)

    def check_all(self, step: int, action: str) -> None:
        for conn_id in self.model.user:
            status = actions_for(conn_id).status()["status"]
            has_token = status in ("active", "expired")
            self.check(f"step {step} ({action}): {conn_id} has a live token: {has_token}, model: "
                       f"{self.model.believed(conn_id)}", has_token == self.model.believed(conn_id))
        holdings = self.emulator.holdings()
        self.check(f"step {step} ({action}): live approvals {_live_approvals(self.emulator)} != live tokens in the "
                   f"model {len(self.model.tokens)}", _live_approvals(self.emulator) == len(self.model.tokens))
        self.check(f"step {step} ({action}): more live approvals than token states",
                   _live_approvals(self.emulator) <= _token_states())
        self.check(f"step {step} ({action}): an approval was evicted",
                   holdings["family_revocations"].get("approval_limit", 0) == 0)
        self.check(f"step {step} ({action}): a refresh token was reused", holdings["reuse_detections"] == 0)

    # ---------------------------------------------------------------- the run
    def step(self, monkeypatch: pytest.MonkeyPatch) -> str:
        conn_id = self.rng.choice(CONNECTIONS)
        if conn_id not in self.model.user:
            self.create(conn_id, self.rng.choice(list(USERS)))
            return "create connection"
        action = self.rng.choices(
            ["setup", "setup_wrong", "reset", "reset_again", "test", "delete", "edit", "delete_conn", "revoke",
             "prune"],
            weights=[6, 2, 2, 2, 3, 2, 2, 1, 1, 1],
        )[0]
        if action in ("setup", "setup_wrong"):
            self.setup(conn_id, right_user=action == "setup")
        elif action in ("reset", "reset_again"):
            self.reset(conn_id, setup_again=action == "reset_again")
        elif action == "test":
            self.test(conn_id)
        elif action == "delete":
            self.delete(conn_id)
        elif action == "edit":
            self.create(conn_id, next(u for u in USERS if u != self.model.user[conn_id]))
        elif action == "delete_conn":
            self.delete_connection(conn_id, monkeypatch)
        elif action == "revoke":
            self.admin_revokes(conn_id)
        else:
            self.prune()
        return action


def test_two_hundred_random_actions_keep_salesforce_and_airflow_in_step(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_SF360_SOAK")]:
        monkeypatch.delenv(name)
    soak = Soak(emulator, make_connection, random.Random(SEED))
    counts: dict[str, int] = {}
    for step in range(ACTIONS):
        action = soak.step(monkeypatch)
        counts[action] = counts.get(action, 0) + 1
        soak.check_all(step, action)
    soak.prune()
    model = soak.model
    with capsys.disabled():
        print(f"\nlifecycle soak: {ACTIONS} actions {dict(sorted(counts.items()))}, {model.checks} invariant "
              f"checks, {len(model.violations)} violations")
    assert model.violations == []
