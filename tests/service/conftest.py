"""Fixtures for the action service's tests: the emulator and env-var connections (tests/helpers)."""

from __future__ import annotations

from tests.helpers.emulator_fixtures import emulator, make_connection

__all__ = ["emulator", "make_connection"]
