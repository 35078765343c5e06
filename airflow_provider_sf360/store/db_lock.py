"""The cross-host credential lock: a row lock in Airflow's metadata database, held for one renewal.

Only code that has the metadata database takes it: the api-server (the page, and the renewal endpoint tasks
call) and the CLI. On PostgreSQL and MySQL it is ``SELECT ... FOR UPDATE`` on a per-credential lock row (a
Variable ``sf360_lock__...``), in the same transaction that then writes the new token state: exclusion comes
from the database, not from timing, and a holder that dies loses its connection and with it the lock.
SQLite serves one host only (its file cannot be shared safely across hosts), so there the host lock is the
lock. Waiters of one host queue on the host lock first, so each host holds at most one database connection
waiting for a credential.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from airflow import settings
from airflow.models.variable import Variable
from airflow.utils.session import create_session
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from airflow_provider_sf360.core.errors import SalesforceUnreachableError, SF360Error
from airflow_provider_sf360.core.renewal import TokenStore
from airflow_provider_sf360.core.state_keys import lock_key
from airflow_provider_sf360.store.locks import HostLock
from airflow_provider_sf360.store.token_store import MaskFn, VariableTokenStore
from airflow_provider_sf360.store.variables import SessionVariables, require_encryption_at_rest

LOCK_ROW_VALUE = "sf360: renewal lock row (managed, holds no secret)"


def _ensure_lock_row(lock_key: str) -> None:
    """Create the credential's lock row once; a concurrent creator winning the race is fine."""
    try:
        with create_session() as session:
            if session.scalar(select(Variable.id).where(Variable.key == lock_key)) is None:
                session.add(Variable(key=lock_key, val=LOCK_ROW_VALUE, description=LOCK_ROW_VALUE))
    except IntegrityError:
        pass  # created by another process meanwhile


def _bound_lock_wait(connection: Connection, dialect: str, seconds: float) -> Callable[[], None]:
    """Bound how long the lock statement may wait on MySQL/MariaDB; returns what puts the connection back as it was.

    ``innodb_lock_wait_timeout`` is a session variable of the (pooled) connection: it is set here, outside any
    transaction, and the returned callable restores the previous value before the connection goes back to the
    pool. PostgreSQL's ``SET LOCAL lock_timeout`` ends with the transaction by itself (see
    :func:`_bound_lock_wait_in_transaction`).
    """
    if dialect != "mysql":
        return lambda: None
    previous = int(connection.execute(text("SELECT @@SESSION.innodb_lock_wait_timeout")).scalar_one())
    connection.execute(text(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(seconds))}"))
    connection.commit()  # no transaction may be open when the session starts its own on this connection

    def restore() -> None:
        connection.rollback()
        connection.execute(text(f"SET SESSION innodb_lock_wait_timeout = {previous}"))
        connection.commit()

    return restore


def _bound_lock_wait_in_transaction(session: Session, dialect: str, seconds: float) -> None:
    if dialect == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'"))


@contextmanager
def row_locked_session(lock_key: str, wait_seconds: float) -> Iterator[Session]:
    """A metadata-DB session holding the row lock of ``lock_key`` until it commits (or rolls back).

    Provider errors are outcomes to remember (a revoked token is stored as revoked), so they commit too; any
    other exception rolls back.
    """
    _ensure_lock_row(lock_key)
    assert settings.Session is not None, "Airflow's metadata database is not configured"
    assert settings.engine is not None, "Airflow's metadata database is not configured"
    # A connection and a session of their own, not the thread's scoped session: every ``create_session()`` inside
    # the exclusive section (the pending-grant marker, Variable reads) would otherwise commit and close it, and
    # with it the row lock. The connection is held until its lock wait timeout is restored.
    with settings.engine.connect() as connection:
        dialect = str(connection.dialect.name)
        restore = _bound_lock_wait(connection, dialect, wait_seconds)
        session = settings.Session.session_factory(bind=connection)
        try:
            _bound_lock_wait_in_transaction(session, dialect, wait_seconds)
            try:
                session.execute(select(Variable.id).where(Variable.key == lock_key).with_for_update()).first()
            except OperationalError:
                session.rollback()
                raise SalesforceUnreachableError(
                    f"Waited {wait_seconds:.0f} s for another Airflow component renewing the same Salesforce "
                    "token; it may be stuck. Nothing was redeemed; retry."
                ) from None
            try:
                yield session
            except SF360Error:
                session.commit()
                raise
            except BaseException:
                session.rollback()
                raise
            session.commit()
        finally:
            session.close()
            restore()


def is_sqlite() -> bool:
    """Whether Airflow's metadata database is SQLite (one host; the host lock is the lock there)."""
    return settings.engine is not None and settings.engine.dialect.name == "sqlite"


class DatabaseCredentialLock:
    """The credential lock of processes that have the metadata database (api-server, CLI).

    :param store: the credential's store outside the lock (a pending grant is recorded through it at once).
    :param host_lock: this credential's host lock (waiters of this host queue there first).
    :param mask: masks tokens read inside the lock.
    """

    def __init__(self, store: VariableTokenStore, host_lock: HostLock, mask: MaskFn) -> None:
        self.store = store
        self.host_lock = host_lock
        self.mask = mask

    def queue_on_host(self) -> AbstractContextManager[None]:
        return self.host_lock.hold()

    @contextmanager
    def exclusive(self) -> Iterator[TokenStore]:
        require_encryption_at_rest()  # before any grant: a token that cannot be stored must not be obtained
        with self.host_lock.hold():
            if is_sqlite():
                yield self.store
                return
            team_name = getattr(self.store.variables, "team_name", None)
            with row_locked_session(lock_key(self.store.state_key), self.host_lock.wait_seconds) as session:
                yield VariableTokenStore(self.store.state_key, SessionVariables(session, team_name), self.mask)
