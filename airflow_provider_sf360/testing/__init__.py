"""Salesforce emulator for offline tests of the provider and of users' own DAGs.

Cheap to import (the pytest plugin imports it in every pytest run): the server modules are loaded
on first attribute access. See docs/emulator.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_sf360.testing.browser import EmulatorBrowserError
    from airflow_provider_sf360.testing.client import EmulatorClient, EmulatorControlError
    from airflow_provider_sf360.testing.config import (
        DEFAULT_CALLBACK_URLS,
        DEFAULT_CONSUMER_KEY,
        DEFAULT_CONSUMER_SECRET,
        DEFAULT_MY_DOMAIN,
        DEFAULT_ORG_ID,
        DEFAULT_SANDBOX_MY_DOMAIN,
        DEFAULT_SANDBOX_ONLY_USER_ID,
        DEFAULT_SANDBOX_ONLY_USERNAME,
        DEFAULT_SANDBOX_ORG_ID,
        DEFAULT_SANDBOX_USER_ID,
        DEFAULT_SANDBOX_USERNAME,
        DEFAULT_SECOND_USER_ID,
        DEFAULT_SECOND_USERNAME,
        DEFAULT_SESSION_TIMEOUT,
        DEFAULT_USER_ID,
        DEFAULT_USERNAME,
        AppConfig,
        EmulatorConfig,
        OrgConfig,
        UserConfig,
    )
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator
    from airflow_provider_sf360.testing.records import SandboxRefresh

_LAZY = {
    "SalesforceEmulator": "emulator",
    "EmulatorClient": "client",
    "EmulatorControlError": "client",
    "EmulatorBrowserError": "browser",
    "SandboxRefresh": "records",
    "EmulatorConfig": "config",
    "AppConfig": "config",
    "OrgConfig": "config",
    "UserConfig": "config",
}
_CONFIG_CONSTANTS = (
    "DEFAULT_ORG_ID", "DEFAULT_MY_DOMAIN", "DEFAULT_USER_ID", "DEFAULT_USERNAME", "DEFAULT_SECOND_USER_ID",
    "DEFAULT_SECOND_USERNAME", "DEFAULT_SANDBOX_ORG_ID", "DEFAULT_SANDBOX_MY_DOMAIN", "DEFAULT_SANDBOX_USER_ID",
    "DEFAULT_SANDBOX_USERNAME", "DEFAULT_SANDBOX_ONLY_USER_ID", "DEFAULT_SANDBOX_ONLY_USERNAME",
    "DEFAULT_CONSUMER_KEY", "DEFAULT_CONSUMER_SECRET", "DEFAULT_CALLBACK_URLS",
    "DEFAULT_SESSION_TIMEOUT",
)
_LAZY.update(dict.fromkeys(_CONFIG_CONSTANTS, "config"))

__all__ = [
    "DEFAULT_CALLBACK_URLS",
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_MY_DOMAIN",
    "DEFAULT_ORG_ID",
    "DEFAULT_SANDBOX_MY_DOMAIN",
    "DEFAULT_SANDBOX_ONLY_USERNAME",
    "DEFAULT_SANDBOX_ONLY_USER_ID",
    "DEFAULT_SANDBOX_ORG_ID",
    "DEFAULT_SANDBOX_USERNAME",
    "DEFAULT_SANDBOX_USER_ID",
    "DEFAULT_SECOND_USERNAME",
    "DEFAULT_SECOND_USER_ID",
    "DEFAULT_SESSION_TIMEOUT",
    "DEFAULT_USERNAME",
    "DEFAULT_USER_ID",
    "AppConfig",
    "EmulatorBrowserError",
    "EmulatorClient",
    "EmulatorConfig",
    "EmulatorControlError",
    "OrgConfig",
    "SalesforceEmulator",
    "SandboxRefresh",
    "UserConfig",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
