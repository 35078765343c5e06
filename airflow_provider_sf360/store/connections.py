"""Metadata-DB helpers shared by the page and the CLI: list ``sf360`` connections, read their status,
and remove a connection's own secret fields (what Delete does beyond the hook's token removal).

Only for server-side processes (api-server, CLI): Airflow 3 tasks may not use the ORM.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_sf360.core.connection_type import CONN_TYPE

SECRET_EXTRA_KEYS = ("private_key", "refresh_token")


@dataclass
class ConnectionRow:
    """One line of the page: the connection's non-secret settings and token status, or why it is broken."""

    conn_id: str
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    callback_url: str | None = None
    team_name: str | None = None
    state_key: str | None = None
    shared_with: list[str] = field(default_factory=list)

    @property
    def auth_flow(self) -> str | None:
        return self.status.get("auth_flow")

    @property
    def status_name(self) -> str:
        """One of ``STATUSES`` (``invalid`` when the connection's fields are unusable)."""
        return "invalid" if self.error is not None else str(self.status.get("status", "not_set_up"))


def list_conn_ids() -> list[str]:
    """Ids of every connection of type ``sf360`` in the metadata DB, sorted."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ids = session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE)).all()
    return sorted(ids)


def connection_row(conn_id: str) -> ConnectionRow:
    """Status of one connection without calling Salesforce; a broken connection gives its error message."""
    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    hook = SF360Hook(conn_id)
    try:
        callback = hook.credentials.callback_url
        return ConnectionRow(conn_id, hook.status(), callback_url=callback)
    except SF360Error as error:
        return ConnectionRow(conn_id, error=str(error))
    except Exception as error:  # one unreadable connection must not break the page
        return ConnectionRow(conn_id, error=f"The connection could not be read ({type(error).__name__}).")


def remove_secret_fields(conn_id: str) -> list[str]:
    """Clear the Consumer Secret, Private Key and Refresh Token of a connection; returns what was removed."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

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


SECRET_FIELD_LABELS = {"password": "Consumer Secret", "private_key": "Private Key", "refresh_token": "Refresh Token"}


def describe_secret_fields(removed: list[str]) -> str:
    """Form labels of removed secret fields, for messages."""
    return ", ".join(SECRET_FIELD_LABELS[key] for key in removed) or "none were set"


def connection_exists(conn_id: str) -> bool:
    """Whether the metadata DB has a connection of type ``sf360`` with this id."""
    return conn_id in list_conn_ids()


# ------------------------------------------------------------------ the fleet: every connection in two queries
TOKEN_PREFIX = "sf360_token__"
STATUS_PREFIX = "sf360_status__"
STATUSES = ("active", "expired", "revoked", "identity_mismatch", "not_set_up", "invalid", "orphaned")


@dataclass
class OrphanedState:
    """Token state no existing connection reaches (its connection was deleted or its identity fields edited)."""

    state_key: str
    org_id: str = ""
    user_id: str = ""
    username: str | None = None
    instance_url: str = ""
    status: str = "orphaned"
    set_up_at: float = 0.0
    set_up_by: str | None = None
    error: str | None = None
    set_up_for: str | None = None  # the connection it was set up for (before that connection changed or went)


@dataclass
class Fleet:
    """What the page and ``sf360 status`` list: one row per sf360 connection, plus orphaned token state."""

    rows: list[ConnectionRow]
    orphans: list[OrphanedState]


class _PrefetchedStore:
    """Read-only token store over Variables read in one query (implements what ``lifecycle.status()`` reads)."""

    def __init__(self, state_key: str, values: dict[str, str]) -> None:
        self.state_key = state_key
        self.values = values

    def load(self) -> Any:
        from airflow_provider_sf360.core.token_state import TokenState

        raw = self.values.get(self.state_key)
        return TokenState.from_json(raw) if raw else None

    def load_test_record(self) -> dict[str, Any] | None:
        raw = self.values.get(self.state_key.replace(TOKEN_PREFIX, STATUS_PREFIX, 1))
        return json.loads(raw) if raw else None


def _decrypt(raw: str | None, encrypted: bool) -> str | None:
    if not raw or not encrypted:
        return raw
    from airflow.models.crypto import get_fernet

    return str(get_fernet().decrypt(raw.encode()).decode())


# Decrypted and validated values keyed by their ciphertext: a page load after the first decrypts and validates
# only what changed (every save re-encrypts, so an edit is always a miss). Only redacted copies are kept: the page
# needs no token and no connection secret, so none stays in the api-server's memory between requests.
_CACHE_LIMIT = 20_000
_credentials_cache: dict[tuple[Any, ...], tuple[Any, str | None]] = {}
_variable_cache: dict[tuple[str, str], str] = {}


def _cached(cache: dict[Any, Any], key: Any, make: Any) -> Any:
    if key not in cache:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = make()
    return cache[key]


def _sf360_connections() -> list[Any]:
    """Every ``sf360`` connection's raw columns (ciphertext, not ORM objects), sorted by id: one query."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    # Table columns, not ORM attributes: no mapper configuration of every Airflow model (about 0.8 s in the CLI).
    table = Connection.__table__
    names = ["conn_id", "login", "password", "is_encrypted", "extra", "is_extra_encrypted"]
    if "team_name" in table.c:
        names.append("team_name")
    with create_session() as session:
        rows = session.execute(select(*(table.c[n] for n in names)).where(table.c.conn_type == CONN_TYPE)).all()
    return sorted(rows, key=lambda r: r[0])


def _token_variables() -> dict[str, str]:
    """Every ``sf360_token__*`` and ``sf360_status__*`` Variable (decrypted), in one query."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    table = Variable.__table__
    with create_session() as session:
        found = session.execute(
            select(table.c.key, table.c.val, table.c.is_encrypted).where(
                or_(table.c.key.like(f"{TOKEN_PREFIX}%"), table.c.key.like(f"{STATUS_PREFIX}%"))
            )
        ).all()
    values = {}
    for key, raw, encrypted in found:
        if raw:
            values[key] = _cached(_variable_cache, (key, raw), lambda r=raw, e=encrypted: _redacted(_decrypt(r, e)))
    return values


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


def _credentials(raw: Any, settings: Any) -> tuple[Any, str | None]:
    """(credentials, None) or (None, why the connection is unusable), cached by the columns' ciphertext."""
    from airflow_provider_sf360.core.credentials import credentials_from_connection_fields
    from airflow_provider_sf360.exceptions import SF360Error

    conn_id, login, password, pw_encrypted, extra, extra_encrypted = raw[:6]

    def make() -> tuple[Any, str | None]:
        try:
            fields = json.loads(_decrypt(extra, extra_encrypted) or "{}")
            if not isinstance(fields, dict):
                fields = {}
            creds = credentials_from_connection_fields(
                conn_id, fields, login, _decrypt(password, pw_encrypted), settings
            )
            return replace(creds, consumer_secret=None, private_key=None, refresh_token=None), None
        except SF360Error as error:
            return None, str(error)
        except Exception as error:  # one unreadable connection must not break the page
            return None, f"The connection could not be read ({type(error).__name__})."

    return _cached(_credentials_cache, (conn_id, login, password, extra, settings), make)


def _fast_status(credentials: Any, values: dict[str, str]) -> dict[str, Any]:
    """What ``SF360Hook.status()`` answers, over prefetched Variables: no query, no hook, no OAuth client."""
    from airflow_provider_sf360.core.lifecycle import status_summary

    store = _PrefetchedStore(credentials.state_key, values)
    return status_summary(credentials, store.load(), store.load_test_record(), time.time())


def _row_of(raw: Any, values: dict[str, str], settings: Any) -> ConnectionRow:
    conn_id = raw[0]
    team = raw[6] if len(raw) > 6 else None
    credentials, error = _credentials(raw, settings)
    if credentials is None:
        return ConnectionRow(conn_id, error=error, team_name=team)
    try:
        status = _fast_status(credentials, values)
    except Exception:  # unreadable token state: the hook's own path says what is wrong
        row = connection_row(conn_id)
        row.team_name = team
        return row
    return ConnectionRow(
        conn_id, status, callback_url=credentials.callback_url, team_name=team, state_key=credentials.state_key
    )


def read_fleet() -> Fleet:
    """Every sf360 connection with its status, who shares its token, and orphaned token state: two queries.

    Only for server-side processes (api-server, CLI).
    """
    from airflow_provider_sf360.settings import provider_settings

    settings = provider_settings()
    values = _token_variables()
    rows = [_row_of(raw, values, settings) for raw in _sf360_connections()]
    by_key: dict[str, list[str]] = {}
    for row in rows:
        if row.state_key:
            by_key.setdefault(row.state_key, []).append(row.conn_id)
    for row in rows:
        if row.state_key:
            row.shared_with = [cid for cid in by_key[row.state_key] if cid != row.conn_id]
    candidates = {key: raw for key, raw in values.items() if key.startswith(TOKEN_PREFIX) and key not in by_key}
    reached = _reached_outside_the_db(candidates, known=set().union(*by_key.values()) if by_key else set())
    orphans = [_orphan(key, raw) for key, raw in sorted(candidates.items()) if key not in reached]
    return Fleet(rows, orphans)


def _reached_outside_the_db(candidates: dict[str, str], known: set[str]) -> set[str]:
    """State keys still reached by a connection the metadata DB does not list (``AIRFLOW_CONN_*`` variables, a
    secrets backend): such state is not orphaned, and pruning it would revoke a working token. Looks up the
    connection each state was set up for, and every sf360 connection defined in the environment."""
    import os

    if not candidates:
        return set()
    names = {name[len("AIRFLOW_CONN_"):].lower() for name in os.environ if name.startswith("AIRFLOW_CONN_")}
    for raw in candidates.values():
        try:
            set_up_for = json.loads(raw).get("set_up_for")
        except (TypeError, ValueError, AttributeError):
            set_up_for = None
        if isinstance(set_up_for, str) and set_up_for:
            names.add(set_up_for)
    reached: set[str] = set()
    for conn_id in sorted(names - known):
        key = _state_key_of(conn_id)
        if key in candidates:
            reached.add(key)
    return reached


def _state_key_of(conn_id: str) -> str | None:
    """The state key of a connection from any source Airflow reads, or None (missing, another type, invalid)."""
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    try:
        return SF360Hook(conn_id).credentials.state_key
    except Exception:  # missing, not sf360, or invalid: it reaches no token state
        return None


def _orphan(key: str, raw: str) -> OrphanedState:
    from airflow_provider_sf360.core.token_state import TokenState

    try:
        state = TokenState.from_json(raw)
    except Exception as error:
        return OrphanedState(key, error=f"unreadable token state ({type(error).__name__})")
    return OrphanedState(
        key, state.org_id, state.user_id, state.username, state.instance_url,
        set_up_at=state.set_up_at, set_up_by=state.set_up_by, set_up_for=state.set_up_for,
    )


def orphaned_states() -> list[OrphanedState]:
    """Token state that no existing connection's state key maps to."""
    return read_fleet().orphans


def prune_orphan(state_key: str) -> tuple[bool, str]:
    """Revoke the refresh and access tokens of one orphaned token state at Salesforce, then remove it.

    Refuses a key that some connection still uses. The revoke URL passes the allow-list check
    (``core.hosts.require_trusted_url``) and no redirect is followed.

    :param state_key: the ``sf360_token__*`` Variable key.
    :returns: (ok, message) without any secret.
    """
    from airflow.models.variable import Variable

    if not state_key.startswith(TOKEN_PREFIX) or len(state_key) > 250:
        return False, f"{state_key[:80]!r} is not sf360 token state."
    fleet = read_fleet()
    if any(row.state_key == state_key for row in fleet.rows):
        return False, "This token state belongs to an existing connection; use Reset or Delete on that connection."
    if not any(orphan.state_key == state_key for orphan in fleet.orphans):
        return False, "There is no orphaned token state with that key (already pruned?)."
    revoked = _revoke_state(Variable.get(state_key, default_var=None))
    Variable.delete(state_key)
    Variable.delete(state_key.replace(TOKEN_PREFIX, STATUS_PREFIX, 1))
    return True, f"Orphaned token state removed; {revoked}."


def _revoke_state(raw: str | None) -> str:
    """Revoke what a token state holds; a description of the outcome (never a token)."""
    import requests

    from airflow_provider_sf360.core.hosts import require_trusted_url
    from airflow_provider_sf360.core.token_state import TokenState
    from airflow_provider_sf360.exceptions import SF360Error
    from airflow_provider_sf360.settings import provider_settings, request_timeout

    try:
        state = TokenState.from_json(raw or "")
    except Exception:
        return "it could not be read, so nothing was revoked"
    try:
        url = require_trusted_url(
            f"{state.instance_url}/services/oauth2/revoke", provider_settings(), "revoke endpoint"
        )
    except SF360Error as error:
        return f"nothing was revoked: {error}"
    outcomes = []
    for token in (state.refresh_token, state.access_token):
        if not token:
            continue
        try:
            answer = requests.post(url, data={"token": token}, timeout=request_timeout(), allow_redirects=False)
            outcomes.append(answer.status_code in (200, 400))  # 400: already dead
        except requests.RequestException:
            outcomes.append(False)
    if all(outcomes):
        return "its tokens are revoked at Salesforce"
    return "Salesforce could not be reached to revoke its tokens (revoke them in Setup > Connected Apps OAuth Usage)"


# ------------------------------------------------------------------ keygen (JWT bearer flow)
def generate_jwt_key_pair(common_name: str, *, days: int = 730, bits: int = 2048) -> tuple[str, str]:
    """A new RSA private key (PKCS#8 PEM) and a self-signed X.509 certificate (PEM) for a Connected App.

    :param common_name: the certificate's subject CN (shown in Salesforce's Connected App).
    :param days: how long the certificate is valid.
    :param bits: the RSA key size.
    """
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def _private_key_refusal(conn: Any, conn_id: str, replace: bool) -> str | None:
    """Why a new private key may not go into ``conn`` (None: it may)."""
    if conn is None or conn.conn_type != CONN_TYPE:
        return f"There is no sf360 connection {conn_id!r} (see `sf360 status` for the list)."
    if conn.extra_dejson.get("private_key") and not replace:
        return (f"Connection {conn_id!r} already has a Private Key; pass --force to replace it (the certificate "
                "uploaded for the old key then stops working).")
    return None


def private_key_refusal(conn_id: str, *, replace: bool = False) -> str | None:
    """Why :func:`set_private_key` would refuse, asked before anything is written (None: it would store).

    :param conn_id: the sf360 connection.
    :param replace: overwrite a Private Key already set.
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        return _private_key_refusal(conn, conn_id, replace)


def set_private_key(conn_id: str, key_pem: str, *, replace: bool = False) -> str | None:
    """Store a private key in an sf360 connection's Private Key field (server side, ORM; encrypted by Fernet).

    :param conn_id: the sf360 connection.
    :param key_pem: the PEM private key.
    :param replace: overwrite a Private Key already set.
    :returns: None when stored, else why not (nothing changed).
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        refusal = _private_key_refusal(conn, conn_id, replace)
        if refusal is not None or conn is None:
            return refusal
        extra = conn.extra_dejson
        extra["private_key"] = key_pem
        conn.extra = json.dumps(extra)
    return None
