"""Actions over many connections and over token state no connection owns: the fleet's status, orphans, prune.

Server side only (api-server, CLI): listing needs the metadata DB.
"""

from __future__ import annotations

from collections.abc import Collection

from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.state_keys import is_token_key
from airflow_provider_sf360.core.token_state import TokenState, read_stored
from airflow_provider_sf360.service.audit import AuditSink
from airflow_provider_sf360.settings import provider_settings, request_timeout, retry_policy
from airflow_provider_sf360.store.connections import Fleet, OrphanedState, delete_state, read_fleet, read_orphan


def fleet_status(only: Collection[str] | None = None) -> Fleet:
    """Every sf360 connection (or the named ones) with its status, and orphaned token state (all only).

    :param only: connection ids (None: every connection, and the orphans).
    """
    return read_fleet(only)


def orphans() -> list[OrphanedState]:
    """Token state whose connection no longer exists anywhere Airflow reads connections."""
    return read_fleet().orphans


def revoke_stored_tokens(raw: str | None) -> str:
    """Revoke what a stored token state holds at Salesforce; says what happened (never a token).

    :param raw: the token Variable's value (a state, a link, or unreadable).
    """
    try:
        stored = read_stored(raw or "")
    except SF360Error:
        return "it could not be read, so nothing was revoked"
    if not isinstance(stored, TokenState):
        return "it held no token (a link to another connection's token)"
    from airflow_provider_sf360.core.oauth_client import revoke_token  # requests: ~36 ms, only when revoking

    outcomes: list[bool] = []
    for token in (stored.refresh_token, stored.access_token):
        if token:
            try:
                revoke_token(token, stored.instance_url, provider_settings(), retry=retry_policy(),
                             timeout=request_timeout())
                outcomes.append(True)  # revoked, or already dead
            except SF360Error:
                outcomes.append(False)
    if all(outcomes):
        return "its tokens are revoked at Salesforce"
    return ("Salesforce could not be reached to revoke its tokens (revoke them in Setup > Connected Apps OAuth "
            "Usage, or External Client App Manager > OAuth Usage)")


def prune(state_key: str, audit: AuditSink) -> tuple[bool, str]:
    """Revoke the tokens of one orphaned token state at Salesforce, then remove it (audited).

    Refuses a key that a connection still owns.

    :param state_key: the ``sf360_token__*`` Variable key.
    :param audit: where the action is recorded.
    :returns: (ok, message) without any secret.
    """
    outcome = _prune(state_key)
    audit.record("prune", state_key, "success" if outcome[0] else "failed", outcome[1])
    return outcome


def _prune(state_key: str) -> tuple[bool, str]:
    if not is_token_key(state_key):
        return False, f"{state_key[:80]!r} is not sf360 token state."
    if not any(orphan.state_key == state_key for orphan in orphans()):
        return False, ("There is no orphaned token state with that key (already pruned, or a connection still "
                       "owns it: use Reset or Delete on that connection).")
    raw, _team = read_orphan(state_key)
    revoked = revoke_stored_tokens(raw)
    delete_state(state_key)
    return True, f"Orphaned token state removed; {revoked}."
