"""Token state written by provider releases before 0.2, moved to the per-connection key it now lives under.

Releases up to 0.1 kept a token under a key made from the connection's org, user and app
(``sf360_token__<org>__<user>__<app>``), shared by every connection naming them. Each such state moves to the
key of the connection it was set up for (``set_up_for``), if that connection still exists and names the same
org, user and app; the move happens under the new key's metadata-DB lock, and only while the new key is empty.
Other connections that used it implicitly are not given it (that implicit sharing is what a copy of public
fields could exploit): they share it on purpose with ``sf360 share``. Server side only (api-server start, CLI).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace

from airflow.models.variable import Variable as VariableModel
from airflow.utils.session import create_session
from sqlalchemy import select

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.core.credentials import SF360Credentials, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.state_keys import TOKEN_PREFIX, lock_key, status_key, token_key
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.settings import lock_wait_timeout, provider_settings
from airflow_provider_sf360.store.connections import read_connection, team_of
from airflow_provider_sf360.store.db_lock import row_locked_session
from airflow_provider_sf360.store.masking import mask_token
from airflow_provider_sf360.store.token_store import VariableTokenStore
from airflow_provider_sf360.store.variables import SessionVariables, read_value

log = logging.getLogger(__name__)

LEGACY_KEY = re.compile(r"^sf360_token__(00D[0-9A-Za-z]{15})__(005[0-9A-Za-z]{15})__([0-9a-f]{12})$")
LEGACY_STATUS_PREFIX = "sf360_status__"


def legacy_key(org_id: str, user_id: str, consumer_key: str, login_url: str) -> str:
    """The key releases before 0.2 kept this org, user and app's token under."""
    app = hashlib.sha256(f"{consumer_key}|{login_url}".encode()).hexdigest()[:12]
    return f"{TOKEN_PREFIX}{org_id}__{user_id}__{app}"


def _legacy_keys() -> list[str]:
    with create_session() as session:
        keys = session.scalars(select(VariableModel.key).where(VariableModel.key.like(f"{TOKEN_PREFIX}%"))).all()
    return [key for key in keys if LEGACY_KEY.match(key)]


def migrate_legacy_token_states() -> int:
    """Move every legacy token state to its connection's key; returns how many moved (never raises)."""
    try:
        legacy = _legacy_keys()
        if not legacy:
            return 0
        return sum(_move(key) for key in legacy)
    except Exception as error:  # a migration problem must never stop the api-server or a command
        log.warning("sf360: legacy token state not migrated (%s)", type(error).__name__)
        return 0


def _move(old_key: str) -> bool:
    with create_session() as session:
        found = read_value(session, old_key)
        text = found[0] if found is not None else None
    try:
        state = TokenState.from_json(text or "")
        creds = _credentials_of(state.set_up_for or "")
    except SF360Error:
        return False
    if creds is None or legacy_key(creds.org_id, creds.user_id, creds.consumer_key, creds.login_url) != old_key:
        return False  # its connection is gone or now names another org, user or app: left as an orphan
    new_key = token_key(creds.conn_id)
    with row_locked_session(lock_key(new_key), lock_wait_timeout()) as session:
        variables = SessionVariables(session, team_of(creds.conn_id))
        if variables.get(new_key):
            return False
        VariableTokenStore(new_key, variables, mask_token).save(replace(state, app=creds.app_fingerprint))
        old_status = LEGACY_STATUS_PREFIX + old_key.removeprefix(TOKEN_PREFIX)
        if (test_record := variables.get(old_status)) is not None:
            variables.set(status_key(new_key), test_record, "sf360: last access test (managed)")
            variables.delete(old_status)
        variables.delete(old_key)
    log.info("sf360: moved the token of connection %r to its own key", creds.conn_id)
    return True


def _credentials_of(conn_id: str) -> SF360Credentials | None:
    """The credentials of an existing sf360 connection, or None."""
    try:
        conn = read_connection(conn_id)
    except Exception:  # no such connection anywhere
        return None
    if conn.conn_type != CONN_TYPE:
        return None
    return credentials_from_connection_fields(conn_id, conn.extra_dejson, conn.login, conn.password,
                                              provider_settings())
