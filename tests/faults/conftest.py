"""Fault-matrix fixtures: the lifecycle fixtures, with short retries and timeouts from the [sf360] options."""

from __future__ import annotations

import pytest

from tests.fault_matrix import MAX_ATTEMPTS, REQUEST_TIMEOUT
from tests.helpers.emulator_fixtures import emulator, make_connection  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__SF360__MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    monkeypatch.setenv("AIRFLOW__SF360__RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("AIRFLOW__SF360__REQUEST_TIMEOUT", str(REQUEST_TIMEOUT))
