"""Airflow Variables as a key-value store: the Task SDK inside tasks, the metadata DB on the server side.

Tasks may not touch the ORM (Airflow 3 blocks it), and ``airflow.sdk.Variable.set`` only works inside a
task; the api-server, the CLI, ``dag.test()`` and tests outside tasks use its table directly. Variables are
Fernet-encrypted at rest when a Fernet key is configured. Under ``[core] multi_team`` a connection's Variables
belong to its team: the server side names the team, and a task's Variables are its own team's (the Execution
API places them there).
"""

from __future__ import annotations

import sys
from typing import Protocol

from airflow.models.crypto import get_fernet
from airflow.models.variable import Variable as VariableModel
from airflow.sdk import SecretCache
from airflow.sdk import Variable as TaskVariable
from airflow.utils.session import create_session
from airflow.utils.sqlalchemy import build_upsert_stmt, get_dialect_name
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from airflow_provider_sf360.core.errors import TokensUnencryptedError
from airflow_provider_sf360.settings import allow_unencrypted_tokens, multi_team_enabled


class VariableBackend(Protocol):
    """get/set/delete of text values by key."""

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, description: str | None = None) -> None: ...
    def delete(self, key: str) -> None: ...


class TaskVariables:
    """Variables through the Task SDK (Execution API): the only way a task may write them."""

    def get(self, key: str) -> str | None:
        value = TaskVariable.get(key, default=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        TaskVariable.set(key, value, description=description)

    def delete(self, key: str) -> None:
        TaskVariable.delete(key)


def require_encryption_at_rest() -> None:
    """Refuse to store tokens when Airflow has no Fernet key (they would sit in the database in plain text).

    ``[sf360] allow_unencrypted_tokens = True`` lifts this for throwaway setups (a laptop, a CI job).
    """
    if getattr(get_fernet(), "is_encrypted", True) or allow_unencrypted_tokens():
        return
    raise TokensUnencryptedError(
        "Refusing to store Salesforce tokens: Airflow has no Fernet key ([core] fernet_key is empty), so they "
        "would be stored unencrypted in the metadata database. Set [core] fernet_key (generate one with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`) on every "
        "Airflow component; for a throwaway setup only, set [sf360] allow_unencrypted_tokens = True."
    )


def _team(team_name: str | None) -> str | None:
    """The team to name to Airflow: only under ``[core] multi_team`` (Airflow refuses a team otherwise)."""
    return team_name if team_name and multi_team_enabled() else None


# The table, not the ORM model: loading a ``Variable`` object masks its value (``Variable.on_db_load`` calls
# ``mask_secret``), and each new value recompiles the masker's pattern of every value seen before. The api-server
# reads a new token state at every renewal, so its masker would grow (and slow down) all day long; where tokens
# must be masked (tasks, the CLI) ``store/masking.py`` does it.
_VARIABLES = VariableModel.__table__


def decrypted(stored: str | None, is_encrypted: bool) -> str | None:
    """A Variable's value as Airflow stores it (Fernet-encrypted when ``is_encrypted``), in plain text.

    :param stored: the ``val`` column.
    :param is_encrypted: the ``is_encrypted`` column.
    """
    if not stored or not is_encrypted:
        return stored
    return get_fernet().decrypt(stored.encode()).decode()


def read_value(session: Session, key: str) -> tuple[str | None, str | None] | None:
    """(value, team) of one Variable, decrypted, or None when there is no such Variable.

    :param session: a metadata-DB session.
    :param key: the Variable's key.
    """
    columns = [_VARIABLES.c.val, _VARIABLES.c.is_encrypted]
    if "team_name" in _VARIABLES.c:
        columns.append(_VARIABLES.c.team_name)
    row = session.execute(select(*columns).where(_VARIABLES.c.key == key)).first()
    if row is None:
        return None
    return decrypted(row[0], bool(row[1])), (row[2] if len(row) > 2 else None)


def _read(session: Session, key: str) -> str | None:
    found = read_value(session, key)
    return None if found is None else found[0]


def _write(session: Session, key: str, value: str, description: str | None, team_name: str | None) -> None:
    """Insert or update one Variable in ``session``, encrypted with Airflow's Fernet key as the model would.

    One atomic upsert (Airflow's own ``build_upsert_stmt``, as ``Variable.set`` does): a select-then-insert lets
    two api-server threads that save the same key at once (three shared connections tested together) both insert.
    """
    require_encryption_at_rest()
    fernet = get_fernet()
    columns = {"val": fernet.encrypt(value.encode()).decode(), "is_encrypted": bool(fernet.is_encrypted),
               "description": description}
    team = {"team_name": team_name} if "team_name" in _VARIABLES.c else {}
    upsert = build_upsert_stmt(get_dialect_name(session), _VARIABLES, ["key"], {"key": key, **columns, **team},
                               columns)
    session.execute(upsert)
    SecretCache.invalidate_variable(key, team_name=team_name)


def _remove(session: Session, key: str, team_name: str | None) -> None:
    session.execute(delete(_VARIABLES).where(_VARIABLES.c.key == key))
    SecretCache.invalidate_variable(key, team_name=team_name)


class MetadataDbVariables:
    """Variables in Airflow's metadata database, one short session per call: api-server routes, CLI, and
    ``dag.test()``.

    The table is used directly rather than ``airflow.models.Variable.get/set``, which inside ``dag.test()`` route
    through the Task SDK (with a deprecation warning) instead of the database, and which add every value read to
    the secrets masker. Only the provider's own keys are read here, so secrets backends (which cannot be written)
    are not consulted.

    :param team_name: the team of the connection whose Variables these are (``[core] multi_team``).
    """

    def __init__(self, team_name: str | None = None) -> None:
        self.team_name = _team(team_name)

    def get(self, key: str) -> str | None:
        with create_session() as session:
            return _read(session, key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        with create_session() as session:
            _write(session, key, value, description, self.team_name)

    def delete(self, key: str) -> None:
        with create_session() as session:
            _remove(session, key, self.team_name)


class SessionVariables:
    """Variables read and written inside one metadata-DB session (the transaction that holds the credential lock).

    :param session: a SQLAlchemy session of Airflow's metadata database.
    :param team_name: the team of the connection whose Variables these are.
    """

    def __init__(self, session: Session, team_name: str | None = None) -> None:
        self.session = session
        self.team_name = _team(team_name)

    def get(self, key: str) -> str | None:
        return _read(self.session, key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        _write(self.session, key, value, description, self.team_name)

    def delete(self, key: str) -> None:
        _remove(self.session, key, self.team_name)


def running_in_task() -> bool:
    """True inside a task process (or ``dag.test()``), where the supervisor relays Variable calls."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def running_in_test_supervisor() -> bool:
    """True under ``dag.test()`` / ``airflow tasks test``: the task runs in this process, with no worker around it."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return comms is not None and type(comms).__name__ == "InProcessSupervisorComms"
