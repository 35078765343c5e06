"""The Airflow plugin: the "Salesforce 360" page (a FastAPI app under ``/sf360``) and its navigation entry.

Registered through the ``airflow.plugins`` entry point. Tasks import every plugin, so this module imports
nothing heavy: the FastAPI app is built on first access to ``fastapi_apps``, which only the api-server
(and ``airflow plugins``) does.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

APP_NAME = "Salesforce 360"
URL_PREFIX = "/sf360"
URL_ROUTE = "sf360"  # the page inside Airflow's UI: <airflow>/plugin/sf360


class _LazyFastAPIApps:
    """A descriptor that builds the app once, when Airflow first reads ``plugin.fastapi_apps``."""

    _apps: list[dict[str, Any]] | None = None

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        if _LazyFastAPIApps._apps is None:
            from airflow_provider_sf360.plugins.app import create_app

            _LazyFastAPIApps._apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": APP_NAME}]
        return _LazyFastAPIApps._apps


class SF360Plugin(AirflowPlugin):
    """Adds "Salesforce 360" to Airflow's Admin menu: set up, reset, test and delete OAuth tokens."""

    name = "sf360"
    fastapi_apps = _LazyFastAPIApps()
    external_views = [
        {
            "name": APP_NAME,
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "admin",
            # Rendered inside Airflow's UI at /plugin/sf360 (an iframe, sandbox "allow-scripts allow-same-origin
            # allow-forms allow-downloads"); the Salesforce sign-in opens in a new tab (see static/sf360.js).
            "url_route": URL_ROUTE,
        }
    ]
