"""Lifecycle helpers: hooks with fast retries, the web server flow played by the emulator, token clocks."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.service.actions import SF360Actions
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.connections import ConnFactory

__all__ = [
    "FAST_RETRY", "ConnFactory", "actions_for", "delete_sf360_variables", "expire_cached_token", "hook_for",
    "set_up_web_flow",
]

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def delete_sf360_variables() -> None:
    """Remove every token state and lock Variable of the provider from the metadata DB."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like("sf360\\_%", escape="\\")).delete(synchronize_session=False)


def hook_for(conn_id: str, **kwargs: Any) -> SF360Hook:
    """A hook with fast retries, for tests that inject faults."""
    return SF360Hook(conn_id, retry=FAST_RETRY, **kwargs)


def actions_for(conn_id: str, **kwargs: Any) -> SF360Actions:
    """The audited actions of a connection, over a hook with fast retries."""
    return SF360Actions(conn_id, hook=hook_for(conn_id, **kwargs))


def set_up_web_flow(emulator: SalesforceEmulator, target: SF360Actions | SF360Hook, username: str | None = None) -> Any:
    """Both halves of the web server flow, the emulator playing the person who clicks Allow."""
    actions = target if isinstance(target, SF360Actions) else SF360Actions(target.sf360_conn_id, hook=target)
    url = actions.start_authorization()
    return actions.complete_authorization(emulator.authorize_headless(url, username=username))


def expire_cached_token(emulator: SalesforceEmulator, target: SF360Actions | SF360Hook) -> None:
    """Move both clocks past the access token's end: Salesforce's (emulator) and ours (stored expiry)."""
    hook = target.hook if isinstance(target, SF360Actions) else target
    state = hook.lifecycle.store.load()
    assert state is not None
    emulator.advance_clock(state.expires_at - state.issued_at + 1)
    hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))


def rotate_refresh_tokens(emulator: SalesforceEmulator) -> None:
    """The customer's admin switches refresh token rotation on for every Connected App."""
    for app in emulator.config.apps:
        emulator.set_app(app.consumer_key, rotation=True)


def set_up_rotating_and_expired(emulator: SalesforceEmulator, make_connection: ConnFactory, **extra: Any) -> SF360Hook:
    """A web-flow connection set up with rotation on, its token made stale: the next use must redeem it."""
    rotate_refresh_tokens(emulator)
    hook = hook_for(make_connection("authorization_code", **extra))
    set_up_web_flow(emulator, hook)
    expire_cached_token(emulator, hook)
    return hook
