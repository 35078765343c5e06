"""Security-test fixtures: the emulator and env-var connections of the lifecycle tests."""

from __future__ import annotations

from tests.helpers.emulator_fixtures import emulator, make_connection  # noqa: F401  (fixtures)
