"""A task's Variable access for tests that run the task side in the test process.

Inside a real task, ``TaskVariables`` goes through the Task SDK to the api-server; here there is no task
supervisor, so the same class reads and writes the metadata DB directly. It stays a ``TaskVariables``, so the
hook behaves as in a task (it renews through the api-server).
"""

from __future__ import annotations

from airflow_provider_sf360.store.variables import MetadataDbVariables, TaskVariables


class TaskSideVariables(TaskVariables):
    """``TaskVariables`` backed by the metadata DB."""

    _db = MetadataDbVariables()

    def get(self, key: str) -> str | None:
        return self._db.get(key)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        self._db.set(key, value, description)

    def delete(self, key: str) -> None:
        self._db.delete(key)
