"""Who acts, and where each action is recorded: a small sink the action service writes every action to.

The page, the CLI, the operators and a bare ``@task`` all go through the service, so all are audited the same
way: one row per action in Airflow's audit log (``store/audit.py`` writes it: through the ORM on the server
side, through the api-server's audit route from a task).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any, Protocol

from airflow.sdk import get_current_context

from airflow_provider_sf360.store.audit import record_action
from airflow_provider_sf360.store.variables import running_in_task


class AuditSink(Protocol):
    """Where the action service records each action; ``actor`` is who acts (kept as ``set_up_by``)."""

    @property
    def actor(self) -> str: ...

    def record(self, event: str, conn_id: str, outcome: str, message: str) -> None:
        """Record one action: ``outcome`` is success, failed, refused or started; ``message`` holds no secret."""


@dataclass(frozen=True)
class AirflowAuditLog:
    """Records actions in Airflow's audit log (``Log`` rows, event ``sf360.<action>``).

    :param actor: who acts: an Airflow user name, ``cli:<os user>``, or the task id.
    :param source: ``page``, ``cli`` or ``task``.
    :param dag_id: the acting task's DAG (tasks only).
    :param task_id: the acting task (tasks only).
    :param run_id: the acting task's DAG run (tasks only).
    """

    actor: str
    source: str
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None

    def record(self, event: str, conn_id: str, outcome: str, message: str) -> None:
        record_action(
            event, conn_id, outcome, user=self.actor, message=message, source=self.source,
            dag_id=self.dag_id, task_id=self.task_id, run_id=self.run_id,
        )

    @classmethod
    def for_user(cls, user: str, source: str) -> AirflowAuditLog:
        """A person acting from the page (``source="page"``) or a terminal (``"cli"``)."""
        return cls(actor=user, source=source)

    @classmethod
    def for_task(cls, context: Any) -> AirflowAuditLog:
        """The task whose Airflow context is ``context``."""
        ti = context.get("ti") if hasattr(context, "get") else None
        task_id = getattr(ti, "task_id", None)
        return cls(actor=str(task_id or "task"), source="task", dag_id=getattr(ti, "dag_id", None),
                   task_id=task_id, run_id=getattr(ti, "run_id", None))

    @classmethod
    def here(cls) -> AirflowAuditLog:
        """Whoever runs this code: the current task inside one, else the operating-system user."""
        if running_in_task():
            return cls.for_task(get_current_context())
        return cls.for_user(cli_user(), "cli")


def cli_user() -> str:
    """``cli:<operating-system user>``: the actor of terminal commands and scripts."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a container without passwd entry)
        return "cli"
