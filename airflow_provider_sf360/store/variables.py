"""Airflow Variables as a key-value store: the Task SDK inside tasks, the metadata DB on the server side.

Tasks may not touch the ORM (Airflow 3 blocks it), and ``airflow.sdk.Variable.set`` only works inside a
task; the api-server, the CLI and tests outside tasks use ``airflow.models.Variable``. Variables are
Fernet-encrypted at rest when a Fernet key is configured.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol


class VariableBackend(Protocol):
    """get/set/delete of text values by key."""

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, description: str | None = None) -> None: ...
    def delete(self, key: str) -> None: ...


class TaskVariables:
    """Variables through the Task SDK (Execution API): the only way a task may write them."""

    def get(self, key: str) -> str | None:
        from airflow.sdk import Variable

        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        from airflow.sdk import Variable

        Variable.set(key, value, description=description)

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(key)


def require_encryption_at_rest() -> None:
    """Refuse to store tokens when Airflow has no Fernet key (they would sit in the database in plain text).

    ``[sf360] allow_unencrypted_tokens = True`` lifts this for throwaway setups (a laptop, a CI job).
    """
    from airflow.models.crypto import get_fernet

    if getattr(get_fernet(), "is_encrypted", True):
        return
    from airflow_provider_sf360.settings import allow_unencrypted_tokens

    if allow_unencrypted_tokens():
        return
    from airflow_provider_sf360.core.errors import TokensUnencryptedError

    raise TokensUnencryptedError(
        "Refusing to store Salesforce tokens: Airflow has no Fernet key ([core] fernet_key is empty), so they "
        "would be stored unencrypted in the metadata database. Set [core] fernet_key (generate one with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`) on every "
        "Airflow component; for a throwaway setup only, set [sf360] allow_unencrypted_tokens = True."
    )


class MetadataDbVariables:
    """Variables through Airflow's models: api-server routes, CLI, tests outside tasks."""

    def get(self, key: str) -> str | None:
        from airflow.models.variable import Variable

        value = Variable.get(key, default_var=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        from airflow.models.variable import Variable

        require_encryption_at_rest()
        Variable.set(key, value, description=description)

    def delete(self, key: str) -> None:
        from airflow.models.variable import Variable

        Variable.delete(key)


class SessionVariables:
    """Variables read and written inside one metadata-DB session (the transaction that holds the credential lock).

    :param session: a SQLAlchemy session of Airflow's metadata database.
    """

    def __init__(self, session: Any) -> None:
        self.session = session

    def get(self, key: str) -> str | None:
        from airflow.models.variable import Variable
        from sqlalchemy import select

        row = self.session.scalar(select(Variable).where(Variable.key == key))
        return None if row is None or row.val is None else str(row.val)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        from airflow.models.variable import Variable

        require_encryption_at_rest()
        Variable.set(key, value, description=description, session=self.session)

    def delete(self, key: str) -> None:
        from airflow.models.variable import Variable
        from sqlalchemy import delete

        self.session.execute(delete(Variable).where(Variable.key == key))


def running_in_task() -> bool:
    """True inside a task process (or ``dag.test()``), where the supervisor relays Variable calls."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def running_in_test_supervisor() -> bool:
    """True under ``dag.test()`` / ``airflow tasks test``: the task runs in this process, with no worker around it."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return comms is not None and type(comms).__name__ == "InProcessSupervisorComms"
