"""Fixtures for lifecycle tests: the emulator, env-var connections, a clean token store per test.

Helpers (``hook_for``, ``set_up_web_flow``...) live in ``tests/helpers/lifecycle.py``.
"""

from __future__ import annotations

from tests.helpers.emulator_fixtures import emulator, make_connection

__all__ = ["emulator", "make_connection"]
