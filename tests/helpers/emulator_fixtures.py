"""Fixtures for tests that run the hook against the emulator with env-var connections.

Import them in a conftest to use them (``from tests.helpers.emulator_fixtures import emulator, make_connection``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, delete_sf360_variables


@pytest.fixture
def emulator(salesforce_emulator: SalesforceEmulator, airflow_db: Any) -> Iterator[SalesforceEmulator]:
    """The emulator reset to its default world, and no token state left from other tests."""
    delete_sf360_variables()
    yield salesforce_emulator
    delete_sf360_variables()


@pytest.fixture
def make_connection(emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch) -> ConnFactory:
    """Create an ``sf360`` connection (as an AIRFLOW_CONN_ env var) for one flow against the emulator."""

    def make(flow: str = "authorization_code", conn_id: str = "sf360_test", *, secret: bool = True,
             **extra: Any) -> str:
        conn = emulator.sf360_connection(flow, secret=secret, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make
