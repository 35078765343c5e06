"""Helpers shared by test modules (conftest modules keep only fixtures; import helpers from here)."""
