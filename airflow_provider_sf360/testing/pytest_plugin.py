"""pytest plugin (entry point ``sf360_emulator``): Salesforce emulator fixtures.

- ``salesforce_emulator_session`` (session scope): one emulator for the whole run; sets
  ``REQUESTS_CA_BUNDLE`` to its CA (restored at the end).
- ``salesforce_emulator`` (function scope): the same emulator, ``reset()`` before each test.

Cheap to import: the emulator is imported inside the fixtures only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator


@pytest.fixture(scope="session")
def salesforce_emulator_session() -> Iterator[SalesforceEmulator]:
    """A running emulator (default world) shared by the session; clients trust it via REQUESTS_CA_BUNDLE."""
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator

    old = os.environ.get("REQUESTS_CA_BUNDLE")
    with SalesforceEmulator() as emu:
        os.environ["REQUESTS_CA_BUNDLE"] = emu.ca_bundle
        try:
            yield emu
        finally:
            if old is None:
                os.environ.pop("REQUESTS_CA_BUNDLE", None)
            else:
                os.environ["REQUESTS_CA_BUNDLE"] = old


@pytest.fixture
def salesforce_emulator(salesforce_emulator_session: SalesforceEmulator) -> SalesforceEmulator:
    """The session emulator, reset to the configured world before the test."""
    salesforce_emulator_session.reset()
    return salesforce_emulator_session
