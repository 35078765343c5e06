"""Connections and token state in the metadata DB, for server-side processes (api-server, CLI): read one
connection (with its team), read the fleet (every ``sf360`` connection and its status in two queries), find
orphaned token state, remove a connection's own secret fields, store a private key.

Airflow 3 tasks may not use the ORM: nothing here runs in a task.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, TypeVar

from airflow.models.connection import Connection
from airflow.models.variable import Variable as VariableModel
from airflow.utils.session import create_session
from sqlalchemy import delete, or_, select

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.hosts import ProviderSettings
from airflow_provider_sf360.core.lifecycle import status_summary
from airflow_provider_sf360.core.state_keys import STATUS_PREFIX, TOKEN_PREFIX, status_key, token_key
from airflow_provider_sf360.core.token_state import TokenLink, TokenState, read_stored
from airflow_provider_sf360.settings import multi_team_enabled, provider_settings
from airflow_provider_sf360.store.variables import decrypted, read_value

SECRET_EXTRA_KEYS = ("private_key", "refresh_token")
SECRET_FIELD_LABELS = {"password": "Consumer Secret", "private_key": "Private Key", "refresh_token": "Refresh Token"}
STATUSES = ("active", "expired", "revoked", "identity_mismatch", "not_set_up", "invalid", "orphaned")
T = TypeVar("T")


# ------------------------------------------------------------------ one connection
def team_of(conn_id: str) -> str | None:
    """The team of a connection in the metadata DB (``[core] multi_team``), else None."""
    return Connection.get_team_name(conn_id) if multi_team_enabled() else None


def read_connection(conn_id: str) -> Connection:
    """A connection from the secrets backends and the metadata DB, read in its team.

    :param conn_id: the connection id.
    :raises AirflowNotFoundException: there is none.
    """
    team = team_of(conn_id)
    return Connection.get_connection_from_secrets(conn_id, team_name=team) if team else (
        Connection.get_connection_from_secrets(conn_id)
    )


def connection_exists(conn_id: str) -> bool:
    """Whether the metadata DB has a connection of type ``sf360`` with this id."""
    with create_session() as session:
        found = session.scalar(
            select(Connection.conn_id).where(Connection.conn_id == conn_id, Connection.conn_type == CONN_TYPE)
        )
    return found is not None


def list_conn_ids() -> list[str]:
    """Ids of every connection of type ``sf360`` in the metadata DB, sorted."""
    with create_session() as session:
        ids = session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE)).all()
    return sorted(ids)


def remove_secret_fields(conn_id: str) -> list[str]:
    """Clear the Consumer Secret, Private Key and Refresh Token of a connection; returns what was removed."""
    removed: list[str] = []
    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        if conn is None:
            return removed
        if conn.password:
            removed.append("password")
            # ``Connection.password = None`` is a no-op (FernetFieldsMixin.set_password ignores falsy values).
            conn._password = None
            conn.is_encrypted = False
        extra = conn.extra_dejson
        for key in SECRET_EXTRA_KEYS:
            if extra.pop(key, None) is not None:
                removed.append(key)
        if any(key != "password" for key in removed):
            conn.extra = json.dumps(extra)
    return removed


def describe_secret_fields(removed: list[str]) -> str:
    """Form labels of removed secret fields, for messages."""
    return ", ".join(SECRET_FIELD_LABELS[key] for key in removed) or "none were set"


def _private_key_refusal(conn: Connection | None, conn_id: str, replace_existing: bool) -> str | None:
    """Why a new private key may not go into ``conn`` (None: it may)."""
    if conn is None or conn.conn_type != CONN_TYPE:
        return f"There is no sf360 connection {conn_id!r} (see `sf360 status` for the list)."
    if conn.extra_dejson.get("private_key") and not replace_existing:
        return (f"Connection {conn_id!r} already has a Private Key; pass --force to replace it (the certificate "
                "uploaded for the old key then stops working).")
    return None


def private_key_refusal(conn_id: str, *, replace_existing: bool = False) -> str | None:
    """Why :func:`set_private_key` would refuse, asked before anything is written (None: it would store).

    :param conn_id: the sf360 connection.
    :param replace_existing: overwrite a Private Key already set.
    """
    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        return _private_key_refusal(conn, conn_id, replace_existing)


def set_private_key(conn_id: str, key_pem: str, *, replace_existing: bool = False) -> str | None:
    """Store a private key in an sf360 connection's Private Key field (ORM; encrypted by Fernet).

    :param conn_id: the sf360 connection.
    :param key_pem: the PEM private key.
    :param replace_existing: overwrite a Private Key already set.
    :returns: None when stored, else why not (nothing changed).
    """
    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        refusal = _private_key_refusal(conn, conn_id, replace_existing)
        if refusal is not None or conn is None:
            return refusal
        extra = conn.extra_dejson
        extra["private_key"] = key_pem
        conn.extra = json.dumps(extra)
    return None


def machine_flow_secret(conn_id: str) -> str | None:
    """The secret a JWT bearer (Private Key) or client credentials (Consumer Secret) connection's tasks prove
    they hold, read by primary key from the metadata DB, else from this process's ``AIRFLOW_CONN_*`` variable:
    cheap, local reads only (no secrets backend is asked for an unproven request); None for anything else.

    :param conn_id: the connection a renewal request names (not yet proven: nothing else is looked up).
    """
    with create_session() as session:
        conn = session.scalars(
            select(Connection).where(Connection.conn_id == conn_id, Connection.conn_type == CONN_TYPE)
        ).one_or_none()
        if conn is None:
            conn = _environment_connection(conn_id)
        if conn is None or conn.conn_type != CONN_TYPE:
            return None
        login, password, extra = conn.login, conn.password, conn.extra_dejson
    try:
        creds = credentials_from_connection_fields(conn_id, extra, login, password, provider_settings())
    except SF360Error:
        return None
    if creds.auth_flow is AuthFlow.JWT_BEARER:
        return creds.private_key
    if creds.auth_flow is AuthFlow.CLIENT_CREDENTIALS:
        return creds.consumer_secret
    return None


def _environment_connection(conn_id: str) -> Connection | None:
    """The connection an ``AIRFLOW_CONN_<ID>`` variable of this process defines (JSON or URI), or None."""
    value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not value:
        return None
    try:
        return Connection.from_json(value, conn_id=conn_id) if value.lstrip().startswith("{") else (
            Connection(conn_id=conn_id, uri=value)
        )
    except Exception:  # an unreadable definition defines nothing here
        return None


class ConnectionFields(Protocol):
    """What is read of a connection object, whichever class Airflow made it with (ORM model or Task SDK)."""

    login: str | None
    password: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def saved_connection_with_same_fields(conn: ConnectionFields) -> str | None:
    """The id of the saved sf360 connection whose fields equal ``conn``'s, secrets included, or None.

    Airflow's form Test button runs the hook under a temporary connection id made from the saved connection's
    fields (secrets merged in only for a user who may read it). The token belongs to the saved connection, so
    the test finds it by its complete fields; at least one secret field must be set, since public fields alone
    can be copied by anyone who may create a connection.

    :param conn: the connection the Test button built.
    """
    wanted = (conn.login or None, conn.password or None, _extra_fields(conn.extra_dejson))
    if not (wanted[1] or any(wanted[2].get(key) for key in SECRET_EXTRA_KEYS)):
        return None
    for stored in _sf360_connections(None):
        try:
            saved = (stored.login or None, stored.decrypted_password() or None, _extra_fields(stored.decrypted_extra()))
        except Exception:  # noqa: S112  (an unreadable connection is not the one tested)
            continue
        if saved == wanted:
            return stored.conn_id
    return None


def _extra_fields(extra: Any) -> dict[str, Any]:
    """Extra fields with empty values dropped (the form saves an empty input as null)."""
    if not isinstance(extra, dict):
        return {}
    return {key: value for key, value in extra.items() if value not in (None, "")}


# ------------------------------------------------------------------ the fleet: every connection in two queries
@dataclass
class ConnectionRow:
    """One line of the page: the connection's non-secret settings and token status, or why it is broken.

    ``shared_with`` names the connections its token is shared with (``hidden_shares`` counts those the viewer
    may not see); ``shared_from`` the connection whose token it uses.
    """

    conn_id: str
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    callback_url: str | None = None
    team_name: str | None = None
    state_key: str | None = None
    shared_with: list[str] = field(default_factory=list)
    shared_from: str | None = None
    hidden_shares: int = 0

    @property
    def auth_flow(self) -> str | None:
        return self.status.get("auth_flow")

    @property
    def status_name(self) -> str:
        """One of ``STATUSES`` (``invalid`` when the connection's fields are unusable)."""
        return "invalid" if self.error is not None else str(self.status.get("status", "not_set_up"))


@dataclass
class OrphanedState:
    """Token state no existing connection owns (its connection was deleted)."""

    state_key: str
    org_id: str = ""
    user_id: str = ""
    username: str | None = None
    instance_url: str = ""
    status: str = "orphaned"
    set_up_at: float = 0.0
    set_up_by: str | None = None
    error: str | None = None
    set_up_for: str | None = None  # the connection it was set up for
    team_name: str | None = None


@dataclass
class Fleet:
    """What the page and ``sf360 status`` list: one row per sf360 connection, plus orphaned token state."""

    rows: list[ConnectionRow]
    orphans: list[OrphanedState]


@dataclass(frozen=True)
class _StoredVariable:
    value: str
    team_name: str | None


# Decrypted and validated values keyed by their ciphertext: a page load after the first decrypts and validates
# only what changed (every save re-encrypts, so an edit is always a miss). Only redacted copies are kept: the page
# needs no token and no connection secret, so none stays in the api-server's memory between requests.
_CACHE_LIMIT = 20_000
_credentials_cache: dict[tuple[Any, ...], tuple[SF360Credentials | None, str | None]] = {}
_variable_cache: dict[tuple[str, str], str] = {}


def _cached(cache: dict[Any, T], key: Any, make: Callable[[], T]) -> T:
    if key not in cache:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = make()
    return cache[key]


class StoredConnection(NamedTuple):
    """One ``sf360`` connection's columns as stored: secrets still encrypted, no ORM object."""

    conn_id: str
    login: str | None
    password: str | None
    is_encrypted: bool
    extra: str | None
    is_extra_encrypted: bool
    team_name: str | None = None

    def decrypted_password(self) -> str | None:
        return decrypted(self.password, self.is_encrypted)

    def decrypted_extra(self) -> Any:
        """The Extra field's JSON (any JSON value: the caller checks it is an object)."""
        return json.loads(decrypted(self.extra, self.is_extra_encrypted) or "{}")


def _sf360_connections(only: Collection[str] | None) -> list[StoredConnection]:
    """Every (or the named) ``sf360`` connection's columns (ciphertext, not ORM objects), sorted by id."""
    # Table columns, not ORM attributes: no mapper configuration of every Airflow model (about 0.8 s in the CLI).
    table = Connection.__table__
    names = ["conn_id", "login", "password", "is_encrypted", "extra", "is_extra_encrypted"]
    if "team_name" in table.c:
        names.append("team_name")
    query = select(*(table.c[n] for n in names)).where(table.c.conn_type == CONN_TYPE)
    if only is not None:
        query = query.where(table.c.conn_id.in_(list(only)))
    with create_session() as session:
        rows = session.execute(query).all()
    return sorted((StoredConnection(*row) for row in rows), key=lambda row: row.conn_id)


def _token_variables(keys: Collection[str] | None) -> dict[str, _StoredVariable]:
    """Every (or the named) ``sf360_token__*`` and ``sf360_status__*`` Variable, decrypted and redacted."""
    table = VariableModel.__table__
    columns = [table.c.key, table.c.val, table.c.is_encrypted]
    has_team = "team_name" in table.c
    if has_team:
        columns.append(table.c.team_name)
    if keys is None:
        where = or_(table.c.key.like(f"{TOKEN_PREFIX}%"), table.c.key.like(f"{STATUS_PREFIX}%"))
    else:
        where = table.c.key.in_(list(keys))
    with create_session() as session:
        found = session.execute(select(*columns).where(where)).all()
    values = {}
    for row in found:
        key, raw, encrypted = row[0], row[1], row[2]
        if raw:
            text = _cached(_variable_cache, (key, raw), _redacting(raw, encrypted))
            values[key] = _StoredVariable(text, row[3] if has_team else None)
    return values


def _redacting(raw: str, encrypted: bool) -> Callable[[], str]:
    return lambda: _redacted(decrypted(raw, encrypted))


def _redacted(text: str | None) -> str:
    """A token state or test record without its tokens (what the page shows never needs them)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return text or ""
    if isinstance(data, dict) and ("access_token" in data or "refresh_token" in data):
        data["access_token"], data["refresh_token"] = "", None
        return json.dumps(data)
    return text or ""


def _credentials(stored: StoredConnection, settings: ProviderSettings) -> tuple[SF360Credentials | None, str | None]:
    """(credentials, None) or (None, why the connection is unusable), cached by the columns' ciphertext."""

    def make() -> tuple[SF360Credentials | None, str | None]:
        try:
            fields = stored.decrypted_extra()
            creds = credentials_from_connection_fields(
                stored.conn_id, fields if isinstance(fields, dict) else {}, stored.login,
                stored.decrypted_password(), settings,
            )
            return replace(creds, consumer_secret=None, private_key=None, refresh_token=None), None
        except SF360Error as error:
            return None, str(error)
        except Exception as error:  # one unreadable connection must not break the page
            return None, f"The connection could not be read ({type(error).__name__})."

    key = (stored.conn_id, stored.login, stored.password, stored.extra, settings)
    return _cached(_credentials_cache, key, make)


def _stored(values: dict[str, _StoredVariable], key: str) -> TokenState | TokenLink | None:
    found = values.get(key)
    return read_stored(found.value) if found else None


def _row_of(
    connection: StoredConnection, values: dict[str, _StoredVariable], settings: ProviderSettings
) -> ConnectionRow:
    conn_id, team = connection.conn_id, connection.team_name
    credentials, error = _credentials(connection, settings)
    state_key = token_key(conn_id)
    if credentials is None:
        return ConnectionRow(conn_id, error=error, team_name=team, state_key=state_key)
    row = ConnectionRow(conn_id, callback_url=credentials.callback_url, team_name=team, state_key=state_key)
    try:
        stored = _stored(values, state_key)
        if isinstance(stored, TokenLink):
            row.shared_from = stored.shared_from
            stored = _stored(values, token_key(stored.shared_from))
            if isinstance(stored, TokenState) and conn_id not in stored.shared_with:
                stored = None
        state = stored if isinstance(stored, TokenState) else None
        test = values.get(status_key(state_key))
        row.status = status_summary(credentials, state, json.loads(test.value) if test else None, time.time())
        row.shared_with = list(state.shared_with) if state is not None and row.shared_from is None else []
    except SF360Error as error:  # an unreadable token state: the row says so, its actions still work
        row.status = {"conn_id": conn_id, **credentials.describe(), "status": "not_set_up",
                      "status_detail": str(error)}
    return row


def read_fleet(only: Collection[str] | None = None) -> Fleet:
    """Every sf360 connection (or the named ones) with its status and sharing, and orphaned token state.

    Two queries whatever the fleet's size; the named connections' own Variables only when ``only`` is given
    (no orphans then).

    :param only: connection ids to read (None: all).
    """
    settings = provider_settings()
    stored_connections = _sf360_connections(only)
    keys = None if only is None else _keys_of(stored_connections)
    values = _token_variables(keys)
    if keys is not None:  # the owners of tokens shared with the named connections
        owners = [stored.shared_from for key in keys if isinstance(stored := _safe_stored(values, key), TokenLink)]
        values.update(_token_variables([token_key(owner) for owner in owners]))
    rows = [_row_of(connection, values, settings) for connection in stored_connections]
    orphans = [] if only is not None else _orphans(values, {row.conn_id for row in rows})
    return Fleet(rows, orphans)


def _keys_of(stored_connections: list[StoredConnection]) -> list[str]:
    keys = [token_key(stored.conn_id) for stored in stored_connections]
    return keys + [status_key(key) for key in keys]


def _safe_stored(values: dict[str, _StoredVariable], key: str) -> TokenState | TokenLink | None:
    try:
        return _stored(values, key)
    except SF360Error:
        return None


def _orphans(values: dict[str, _StoredVariable], known: set[str]) -> list[OrphanedState]:
    """Token states and links whose connection no longer exists anywhere Airflow reads connections.

    A connection with invalid fields still owns its state (the key comes from its id alone). Connections
    defined in ``AIRFLOW_CONN_*`` variables or a secrets backend are looked up before a state is called
    orphaned: pruning it would revoke a working token.
    """
    own_keys = {token_key(conn_id) for conn_id in known}
    candidates = {k: v for k, v in values.items() if k.startswith(TOKEN_PREFIX) and k not in own_keys}
    orphans = []
    for key, found in sorted(candidates.items()):
        orphan = _orphan(key, found)
        owner = orphan.set_up_for or key.removeprefix(TOKEN_PREFIX)
        if not _defined_elsewhere(owner, key):
            orphans.append(orphan)
    return orphans


def _defined_elsewhere(conn_id: str, key: str) -> bool:
    """Whether a connection outside the metadata DB (environment, secrets backend) owns the state ``key``."""
    if token_key(conn_id) != key:
        return False
    if f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ:
        return True
    try:
        return read_connection(conn_id).conn_type == CONN_TYPE
    except Exception:  # not found anywhere (or unreadable): nothing reaches the state
        return False


def _orphan(key: str, found: _StoredVariable) -> OrphanedState:
    try:
        stored = read_stored(found.value)
    except SF360Error as error:
        return OrphanedState(key, error=str(error).split(":")[0], team_name=found.team_name,
                             set_up_for=key.removeprefix(TOKEN_PREFIX))
    if isinstance(stored, TokenLink):
        return OrphanedState(key, set_up_for=key.removeprefix(TOKEN_PREFIX), team_name=found.team_name,
                             error=f"a link to the token of {stored.shared_from!r}")
    return OrphanedState(
        key, stored.org_id, stored.user_id, stored.username, stored.instance_url,
        set_up_at=stored.set_up_at, set_up_by=stored.set_up_by, set_up_for=stored.set_up_for,
        team_name=found.team_name,
    )


def read_orphan(state_key: str) -> tuple[str | None, str | None]:
    """The raw value and team of one token Variable (decrypted; holds tokens: server side only)."""
    with create_session() as session:
        found = read_value(session, state_key)
    return (None, None) if found is None else found


def delete_state(state_key: str) -> None:
    """Remove a token state Variable and its last-test record (any team)."""
    with create_session() as session:
        session.execute(delete(VariableModel).where(VariableModel.key.in_([state_key, status_key(state_key)])))
