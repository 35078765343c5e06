"""Issue 11 soak: 200 random actions over three connections, checked after every step against a model.

Actions: set up (as the right user, and as the wrong one), reset, reset with set up again, test access, delete,
edit a connection's user, delete a connection with Airflow's own tools (its env var goes), an admin revoking a
user's tokens, and pruning orphaned token state. Invariants checked after every step, at Salesforce (the
emulator) and in Airflow:

- the provider's view matches the model (a connection has a token exactly when the model says it is set up);
- Salesforce never holds more live approvals than token states the provider keeps (connections and orphans);
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
from tests.helpers.lifecycle import ConnFactory, hook_for, set_up_web_flow

ACTIONS = 200
SEED = 20261129
CONNECTIONS = ("sf360_soak_a", "sf360_soak_b", "sf360_soak_c")
USERS = {world.DEFAULT_USER_ID: world.DEFAULT_USERNAME, world.DEFAULT_SECOND_USER_ID: world.DEFAULT_SECOND_USERNAME}


@dataclass
class Model:
    """What should be true: which connections exist and whom they name, and which identities hold a live token
    (token state is keyed by org, user and app, so connections naming the same user share it)."""

    user: dict[str, str] = field(default_factory=dict)  # conn id -> user id (absent: deleted)
    tokens: dict[str, str] = field(default_factory=dict)  # user id -> conn id it was last set up for
    checks: int = 0
    violations: list[str] = field(default_factory=list)

    def named(self, user_id: str) -> bool:
        return user_id in self.user.values()

    def set_up(self, conn_id: str) -> bool:
        return self.user.get(conn_id) in self.tokens

    def prune(self, set_up_for: str | None = None) -> None:
        """Orphans (tokens of identities no connection names) go; only those set up for one connection if given."""
        for user_id, owner in list(self.tokens.items()):
            if not self.named(user_id) and (set_up_for is None or owner == set_up_for):
                del self.tokens[user_id]


def _live_approvals(emulator: SalesforceEmulator) -> int:
    return sum(entry["live_approvals"] for entry in emulator.holdings()["by_user_app"])


def _token_states() -> int:
    """Token states the provider holds (set-up connections, shared ones once, and orphans)."""
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
            set_up_web_flow(self.emulator, hook_for(conn_id), username=USERS[signs_in])
        except SF360Error:
            assert not right_user, "a setup as the right user failed"
            return
        assert right_user, "a setup as the wrong user succeeded"
        self._set_up(conn_id)

    def _set_up(self, conn_id: str) -> None:
        self.model.tokens[self.model.user[conn_id]] = conn_id
        self.model.prune(set_up_for=conn_id)  # what it held under an earlier identity is revoked

    def reset(self, conn_id: str, setup_again: bool) -> None:
        hook = hook_for(conn_id)
        result = hook.reset(setup_again=setup_again)
        self.model.tokens.pop(self.model.user[conn_id], None)
        if setup_again:
            assert result.details.get("authorize_url"), result.message
            hook.complete_authorization(self.emulator.authorize_headless(result.details["authorize_url"],
                                                                         username=USERS[self.model.user[conn_id]]))
            self._set_up(conn_id)

    def test(self, conn_id: str) -> None:
        result = hook_for(conn_id).test_access()
        if not self.model.set_up(conn_id):
            assert not result.ok, result.message

    def delete(self, conn_id: str) -> None:
        assert hook_for(conn_id).delete().ok
        self.model.tokens.pop(self.model.user[conn_id], None)

    def delete_connection(self, conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
        self.model.user.pop(conn_id, None)

    def admin_revokes(self, conn_id: str) -> None:
        user_id = self.model.user[conn_id]
        self.emulator.revoke_user_tokens(user_id)
        self.model.tokens.pop(user_id, None)
        hook_for(conn_id).test_access()  # the provider learns it at the next use

    def prune(self) -> None:
        from airflow_provider_sf360.store.connections import orphaned_states, prune_orphan

        for orphan in orphaned_states():
            ok, message = prune_orphan(orphan.state_key)
            assert ok, message
        self.model.prune()
        self.check("no orphan after prune", orphaned_states() == [])
        self.check("no approval unknown to the provider after prune",
                   _live_approvals(self.emulator) <= len(self.model.tokens))

    # ---------------------------------------------------------------- invariants
    def check(self, what: str, holds: bool) -> None:
        self.model.checks += 1
        if not holds:
            self.model.violations.append(what)

    def check_all(self, step: int, action: str) -> None:
        for conn_id in self.model.user:
            status = hook_for(conn_id).status()["status"]
            has_token = status in ("active", "expired")
            self.check(f"step {step} ({action}): {conn_id} has a live token: {has_token}, model: "
                       f"{self.model.set_up(conn_id)}", has_token == self.model.set_up(conn_id))
        holdings = self.emulator.holdings()
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
