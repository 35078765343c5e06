"""A request that consumes a refresh token is never abandoned and never re-sent blindly.

Against the emulator with rotation on; after each case we also check what Salesforce holds: reuse detections and
family revocations (goal 0), live approvals. ``delay_after``/``drop_after`` let the emulator process the grant
(rotating the token) before it answers late or not at all, which is what Salesforce does with a request the
client gave up on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_sf360.exceptions import (
    RefreshAnswerLostError,
    RefreshOutcomeUnknownError,
    SalesforceUnreachableError,
    TokenRevokedError,
)
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, expire_cached_token, hook_for, set_up_rotating_and_expired

REQUEST_TIMEOUT = 2


@pytest.fixture
def short_request_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__REQUEST_TIMEOUT", str(REQUEST_TIMEOUT))


def _families_lost(emulator: SalesforceEmulator) -> int:
    return sum(emulator.holdings()["family_revocations"].get(cause, 0) for cause in ("reuse", "revoke_endpoint"))


@pytest.mark.slow  # waits for the slow answers
@pytest.mark.parametrize("answer_after", [3.0, 2.2, 12.0])
def test_a_slow_refresh_answer_is_waited_for_and_the_family_survives(
    emulator: SalesforceEmulator, make_connection: ConnFactory, short_request_timeout: None, answer_after: float
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    before = hook.lifecycle.store.load()
    emulator.inject_fault("token", "delay_after", count=1, seconds=answer_after)
    started = time.monotonic()
    sf = hook.get_conn()
    assert time.monotonic() - started >= answer_after
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] >= 0  # the tasks go on
    after = hook.lifecycle.store.load()
    assert after.generation == before.generation + 1 and after.refresh_token != before.refresh_token
    assert emulator.request_counts()["token:refresh_token"] == 1  # waited for, never re-sent
    holdings = emulator.holdings()
    assert holdings["reuse_detections"] == 0 and _families_lost(emulator) == 0


def test_a_lost_answer_whose_token_was_consumed_says_so_and_never_blames_an_admin(
    emulator: SalesforceEmulator, make_connection: ConnFactory, short_request_timeout: None
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    emulator.inject_fault("token", "drop_after", count=1)
    with pytest.raises(RefreshAnswerLostError) as lost:
        hook.get_conn()
    message = str(lost.value)
    assert "rotated the refresh token" in message and "answer was lost" in message
    assert "admin" not in message.lower()
    assert "Set up the OAuth token again" in message
    assert emulator.request_counts()["token:refresh_token"] == 1  # checked by introspection, not re-sent
    assert emulator.holdings()["reuse_detections"] == 0
    # Later tasks fail at once with the same explanation, without calling Salesforce.
    tokens_before = emulator.request_counts()["token"]
    with pytest.raises(TokenRevokedError) as again:
        hook_for(hook.sf360_conn_id).get_conn()
    assert "answer was lost" in str(again.value)
    assert emulator.request_counts()["token"] == tokens_before


def test_a_lost_answer_whose_token_was_not_used_is_sent_again(
    emulator: SalesforceEmulator, make_connection: ConnFactory, short_request_timeout: None
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    emulator.inject_fault("token", "drop", count=1)  # the connection breaks before Salesforce processes it
    hook.get_conn()
    assert emulator.request_counts()["token:refresh_token"] == 2
    assert emulator.request_counts()["introspect"] >= 1
    assert emulator.holdings()["reuse_detections"] == 0 and _families_lost(emulator) == 0


def test_without_the_consumer_secret_an_unknown_outcome_stops_until_it_can_be_checked(
    emulator: SalesforceEmulator, make_connection: ConnFactory, short_request_timeout: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.set_app(emulator.config.apps[0].consumer_key, require_secret=False)
    hook = set_up_rotating_and_expired(emulator, make_connection, secret=False)
    emulator.inject_fault("token", "drop_after", count=1)
    with pytest.raises(RefreshOutcomeUnknownError) as unknown:
        hook.get_conn()
    assert "Add the Consumer Secret" in str(unknown.value)
    assert hook.lifecycle.store.load().unconfirmed_grant  # remembered: the next renewal checks first
    with pytest.raises(RefreshOutcomeUnknownError):  # still no way to check: nothing is re-sent
        hook_for(hook.sf360_conn_id).get_conn()
    assert emulator.request_counts()["token:refresh_token"] == 1
    # The admin adds the secret: the next renewal asks Salesforce first and names what happened.
    make_connection("authorization_code", conn_id=hook.sf360_conn_id)
    with pytest.raises(RefreshAnswerLostError):
        hook_for(hook.sf360_conn_id).get_conn()
    assert emulator.request_counts()["token:refresh_token"] == 1
    assert emulator.holdings()["reuse_detections"] == 0


def test_connect_errors_and_5xx_keep_their_retries(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    emulator.inject_fault("token", "503", count=2)  # provably not processed: retried with backoff
    hook.get_conn()
    assert emulator.request_counts()["token:refresh_token"] == 3
    assert hook.lifecycle.store.load().unconfirmed_grant is None
    assert emulator.holdings()["reuse_detections"] == 0


HOLDER_ANSWER_SECONDS = 12.0
HOLDER = """
import os, sys
os.environ.update({env!r})
from airflow_provider_sf360.hooks.sf360 import SF360Hook
print("sending", flush=True)
SF360Hook({conn_id!r}).get_conn()
print("finished", flush=True)
"""


@pytest.mark.slow  # two processes, one killed mid-renewal
def test_a_holder_killed_mid_renewal_releases_the_lock_and_its_grant_is_resolved(
    emulator: SalesforceEmulator, make_connection: ConnFactory, tmp_path: Path
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    conn_id = hook.sf360_conn_id
    env = {k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW", "REQUESTS_CA", "SSL_CERT"))}
    emulator.inject_fault("token", "delay_after", count=1, seconds=HOLDER_ANSWER_SECONDS)  # processed at once
    script = HOLDER.format(env=env, conn_id=conn_id)
    log = tmp_path / "holder.log"
    with open(log, "wb") as out:
        holder = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + 60
    while emulator.holdings()["rotations"] < 1:  # Salesforce processed the grant; its answer is still to come
        assert time.monotonic() < deadline and holder.poll() is None, log.read_text()[-3000:]
        time.sleep(0.05)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(10)
    started = time.monotonic()
    with pytest.raises(RefreshAnswerLostError):  # the marker written before sending says: check first
        hook_for(conn_id).get_conn()
    assert time.monotonic() - started < HOLDER_ANSWER_SECONDS  # the lock died with its holder
    assert emulator.holdings()["rotations"] == 1  # only the dead holder's grant was ever processed
    assert emulator.holdings()["reuse_detections"] == 0
    while emulator.request_counts().get("token:refresh_token", 0) < 1:  # let the late answer land in this test
        assert time.monotonic() < deadline + HOLDER_ANSWER_SECONDS
        time.sleep(0.1)


def test_a_crash_before_sending_leaves_the_token_usable(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    state = hook.lifecycle.store.load()
    from airflow_provider_sf360.core.renewal import fingerprint

    # A renewer wrote its marker and died before its request left the host.
    hook.lifecycle.store.save(replace(state, unconfirmed_grant=fingerprint(state.refresh_token)))
    hook_for(hook.sf360_conn_id).get_conn()  # introspection: still active, so it is redeemed
    assert emulator.request_counts()["token:refresh_token"] == 1
    assert hook.lifecycle.store.load().unconfirmed_grant is None
    assert json.loads(json.dumps(emulator.holdings()))["reuse_detections"] == 0


def test_unreachable_introspection_after_a_lost_answer_is_retryable_and_re_sends_nothing(
    emulator: SalesforceEmulator, make_connection: ConnFactory, short_request_timeout: None
) -> None:
    hook = set_up_rotating_and_expired(emulator, make_connection)
    emulator.inject_fault("token", "drop", count=1)
    emulator.inject_fault("introspect", "503", count=50)
    with pytest.raises(SalesforceUnreachableError) as unreachable:
        hook.get_conn()
    assert "Nothing was re-sent" in str(unreachable.value)
    assert emulator.request_counts()["token:refresh_token"] == 1
    emulator.clear_faults()
    hook_for(hook.sf360_conn_id).get_conn()  # checked first, then redeemed
    assert emulator.request_counts()["token:refresh_token"] == 2
    assert emulator.holdings()["reuse_detections"] == 0


def test_renewals_and_failures_reach_airflow_stats(
    emulator: SalesforceEmulator, make_connection: ConnFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.observability import stats

    seen: list[tuple[str, str, dict[str, str]]] = []
    def recorder(kind: str) -> object:
        return lambda name, *_args, tags=None, **_kwargs: seen.append((kind, name, tags or {}))

    monkeypatch.setattr(stats.Stats, "incr", recorder("incr"))
    monkeypatch.setattr(stats.Stats, "timing", recorder("timing"))
    hook = set_up_rotating_and_expired(emulator, make_connection)
    hook.get_conn()
    assert ("incr", "sf360.token.renewed", {"flow": "authorization_code"}) in seen
    assert {name for kind, name, _ in seen if kind == "timing"} >= {"sf360.token.renewal_wait",
                                                                    "sf360.token.renewal_duration"}
    expire_cached_token(emulator, hook)
    emulator.revoke_user_tokens(hook.credentials.user_id)
    with pytest.raises(TokenRevokedError):
        hook_for(hook.sf360_conn_id).get_conn()
    assert ("incr", "sf360.token.renewal_failed", {"reason": "revoked"}) in seen
    assert ("incr", "sf360.token.renewal_failed.revoked", {}) in seen
