"""Airflow Variables as a key-value store: the Task SDK inside tasks, the metadata DB on the server side.

Tasks may not touch the ORM (Airflow 3 blocks it), and ``airflow.sdk.Variable.set`` only works inside a
task; the api-server, the CLI and tests outside tasks use ``airflow.models.Variable``. Variables are
Fernet-encrypted at rest when a Fernet key is configured.
"""

from __future__ import annotations

import sys
from typing import Protocol


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


class MetadataDbVariables:
    """Variables through Airflow's models: api-server routes, CLI, tests outside tasks."""

    def get(self, key: str) -> str | None:
        from airflow.models.variable import Variable

        value = Variable.get(key, default_var=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        from airflow.models.variable import Variable

        Variable.set(key, value, description=description)

    def delete(self, key: str) -> None:
        from airflow.models.variable import Variable

        Variable.delete(key)


def running_in_task() -> bool:
    """True inside a task process (or ``dag.test()``), where the supervisor relays Variable calls."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def variable_backend() -> VariableBackend:
    """The backend that works where this code runs."""
    return TaskVariables() if running_in_task() else MetadataDbVariables()
