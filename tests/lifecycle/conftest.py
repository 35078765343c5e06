"""Fixtures for lifecycle tests: the emulator, env-var connections, a clean token store per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.testing import SalesforceEmulator

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
ConnFactory = Callable[..., str]


def _delete_sf360_variables() -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like("sf360\\_%", escape="\\")).delete(synchronize_session=False)


@pytest.fixture
def emulator(salesforce_emulator: SalesforceEmulator, airflow_db: Any) -> Iterator[SalesforceEmulator]:
    """The emulator reset to its default world, and no token state left from other tests."""
    _delete_sf360_variables()
    yield salesforce_emulator
    _delete_sf360_variables()


@pytest.fixture
def make_connection(emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch) -> ConnFactory:
    """Create an ``sf360`` connection (as an AIRFLOW_CONN_ env var) for one flow against the emulator."""

    def make(flow: str = "authorization_code", conn_id: str = "sf360_test", *, secret: bool = True,
             **extra: Any) -> str:
        conn = emulator.sf360_connection(flow, secret=secret, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


def hook_for(conn_id: str, **kwargs: Any) -> SF360Hook:
    return SF360Hook(conn_id, retry=FAST_RETRY, **kwargs)


def set_up_web_flow(emulator: SalesforceEmulator, hook: SF360Hook, username: str | None = None) -> Any:
    """Both halves of the web server flow, the emulator playing the person who clicks Allow."""
    url = hook.authorization_url()
    return hook.complete_authorization(emulator.authorize_headless(url, username=username))


def expire_cached_token(emulator: SalesforceEmulator, hook: SF360Hook) -> None:
    """Move both clocks past the access token's end: Salesforce's (emulator) and ours (stored expiry)."""
    import time
    from dataclasses import replace

    state = hook.lifecycle.store.load()
    assert state is not None
    emulator.advance_clock(state.expires_at - state.issued_at + 1)
    hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))
