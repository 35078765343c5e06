"""Provider registration: the ``sf360`` connection type, its form fields and the ``[sf360]`` options.

Read by Airflow's ``ProvidersManager`` through the ``apache_airflow_provider`` entry point; the
declarative ``conn-fields`` / ``ui-field-behaviour`` render the form in Airflow 3.2+ without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sf360.core.connection_type import CONN_TYPE, DEFAULT_CONN_ID, HOOK_NAME
from airflow_provider_sf360.core.credentials import DEFAULT_API_VERSION, FIELD_LABELS, FIELD_MAX_LENGTHS, AuthFlow
from airflow_provider_sf360.core.ids import ORG_PREFIX, USER_PREFIX, id_pattern
from airflow_provider_sf360.core.options import config_section

PORT_LABEL = "Port (unused: enter 0 so that Airflow 3.3.2's Test button works)"
__all__ = ["CONFIG", "CONN_FIELDS", "CONN_TYPE", "DEFAULT_CONN_ID", "HOOK_NAME", "UI_FIELD_BEHAVIOUR",
           "get_provider_info"]


def _optional(kind: str = "string", **schema: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **schema}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "org_id": {
        "label": FIELD_LABELS["org_id"],
        "description": "15 or 18 characters, starting with 00D (Setup > Company Information).",
        "schema": {"type": "string", "minLength": 15, "maxLength": 18, "pattern": id_pattern(ORG_PREFIX)},
    },
    "user_id": {
        "label": FIELD_LABELS["user_id"],
        "description": "15 or 18 characters, starting with 005: the Salesforce user the sync acts as.",
        "schema": {"type": "string", "minLength": 15, "maxLength": 18, "pattern": id_pattern(USER_PREFIX)},
    },
    "is_sandbox": {
        "label": FIELD_LABELS["is_sandbox"],
        "description": "On for a sandbox org: signs in at test.salesforce.com instead of login.salesforce.com.",
        "schema": {"type": "boolean", "default": False},
    },
    "auth_flow": {
        "label": FIELD_LABELS["auth_flow"],
        "description": "authorization_code: sign in through the browser (PKCE); jwt_bearer: certificate; "
        "client_credentials: the app's run-as user; refresh_token: a token issued elsewhere.",
        "schema": {
            "type": "string",
            "enum": [flow.value for flow in AuthFlow],
            "default": AuthFlow.AUTHORIZATION_CODE.value,
        },
    },
    "login_url": {
        "label": FIELD_LABELS["login_url"],
        "description": "Optional: https://<MyDomain>.my.salesforce.com (no path); required for client_credentials.",
        "schema": _optional(maxLength=FIELD_MAX_LENGTHS["login_url"], pattern=r"^https://[^\s\\@/?#]+/?$"),
    },
    "username": {
        "label": FIELD_LABELS["username"],
        "description": "jwt_bearer only: the username the JWT signs in as (the subject).",
        "schema": _optional(maxLength=FIELD_MAX_LENGTHS["username"]),
    },
    "private_key": {
        "label": FIELD_LABELS["private_key"],
        "description": "jwt_bearer only: the RSA private key whose certificate is uploaded to the External Client "
        "App (or Connected App).",
        "schema": _optional(format="multiline", maxLength=FIELD_MAX_LENGTHS["private_key"]),
    },
    "refresh_token": {
        "label": FIELD_LABELS["refresh_token"],
        "description": "refresh_token flow only: a refresh token issued elsewhere (e.g. by the Salesforce CLI).",
        "schema": _optional(format="password", maxLength=FIELD_MAX_LENGTHS["refresh_token"]),
    },
    "callback_url": {
        "label": FIELD_LABELS["callback_url"],
        "description": "authorization_code: must equal a Callback URL of the External Client App (or Connected "
        "App).",
        "schema": _optional(maxLength=FIELD_MAX_LENGTHS["callback_url"], pattern=r"^https?://[^\s\\@]+$"),
    },
    "jwt_audience": {
        "label": FIELD_LABELS["jwt_audience"],
        "description": "jwt_bearer only, rarely needed: the JWT audience for an Experience Cloud site (its https "
        "URL). Empty: https://login.salesforce.com, or https://test.salesforce.com for a sandbox.",
        "schema": _optional(maxLength=FIELD_MAX_LENGTHS["jwt_audience"], pattern=r"^https://[^\s\\@]+$"),
    },
    "api_version": {
        "label": FIELD_LABELS["api_version"],
        "description": f"Salesforce REST API version; default {DEFAULT_API_VERSION}.",
        "schema": _optional(
            default=DEFAULT_API_VERSION, maxLength=FIELD_MAX_LENGTHS["api_version"], pattern=r"^[vV]?\d{2,3}\.0$"
        ),
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    # Port stays visible for one reason: Airflow 3.3.2's Test button answers "Bad Request" for a connection whose
    # port is empty (apache/airflow PR #73298, fixed after 3.3.2); entering 0 is the workaround. sf360 ignores it.
    "hidden-fields": ["host", "schema"],
    "relabeling": {"login": FIELD_LABELS["login"], "password": FIELD_LABELS["password"], "port": PORT_LABEL},
    "placeholders": {
        "login": "3MVG9... (Connected App consumer key)",
        "password": "optional for authorization_code with PKCE and for jwt_bearer",
        "port": "0",
    },
}

CONFIG: dict[str, Any] = config_section()


def get_provider_info() -> dict[str, Any]:
    """Return the provider-info dict Airflow validates against ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-sf360",
        "name": HOOK_NAME,
        "description": "Salesforce OAuth credentials for Airflow DAGs: set up, reset, test access and delete "
        "tokens of one `sf360` connection; a ready simple-salesforce client that keeps its token fresh.",
        "integrations": [
            {
                "integration-name": HOOK_NAME,
                "external-doc-url": "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_authenticate.htm",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": HOOK_NAME,
                "python-modules": ["airflow_provider_sf360.hooks.sf360"],
            }
        ],
        "operators": [
            {
                "integration-name": HOOK_NAME,
                "python-modules": ["airflow_provider_sf360.operators.oauth"],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_sf360.hooks.sf360.SF360Hook",
                "hook-name": HOOK_NAME,
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "config": CONFIG,
    }
