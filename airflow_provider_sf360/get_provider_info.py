"""Provider registration: the ``sf360`` connection type, its form fields and the ``[sf360]`` options.

Read by Airflow's ``ProvidersManager`` through the ``apache_airflow_provider`` entry point; the
declarative ``conn-fields`` / ``ui-field-behaviour`` render the form in Airflow 3.2+ without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sf360.core.credentials import DEFAULT_API_VERSION, AuthFlow

CONN_TYPE = "sf360"
DEFAULT_CONN_ID = "sf360_default"
HOOK_NAME = "Salesforce 360 (OAuth)"


def _optional(kind: str = "string", **schema: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **schema}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "org_id": {
        "label": "Salesforce Org ID",
        "description": "15 or 18 characters, starting with 00D (Setup > Company Information).",
        "schema": {"type": "string", "minLength": 15, "maxLength": 18},
    },
    "user_id": {
        "label": "Salesforce User ID",
        "description": "15 or 18 characters, starting with 005: the Salesforce user the sync acts as.",
        "schema": {"type": "string", "minLength": 15, "maxLength": 18},
    },
    "is_sandbox": {
        "label": "Use salesforce.com Sandbox",
        "description": "On for a sandbox org: signs in at test.salesforce.com instead of login.salesforce.com.",
        "schema": {"type": "boolean", "default": False},
    },
    "auth_flow": {
        "label": "OAuth flow",
        "description": "authorization_code: sign in through the browser (PKCE); jwt_bearer: certificate; "
        "client_credentials: the app's run-as user; refresh_token: a token issued elsewhere.",
        "schema": {
            "type": "string",
            "enum": [flow.value for flow in AuthFlow],
            "default": AuthFlow.AUTHORIZATION_CODE.value,
        },
    },
    "login_url": {
        "label": "Login URL (My Domain)",
        "description": "Optional https URL such as https://acme.my.salesforce.com; required for client_credentials.",
        "schema": _optional(),
    },
    "username": {
        "label": "Salesforce Username",
        "description": "jwt_bearer only: the username the JWT signs in as (the subject).",
        "schema": _optional(),
    },
    "private_key": {
        "label": "Private Key (PEM)",
        "description": "jwt_bearer only: the RSA private key whose certificate is uploaded to the Connected App.",
        "schema": _optional(format="multiline"),
    },
    "refresh_token": {
        "label": "Refresh Token",
        "description": "refresh_token flow only: a refresh token issued elsewhere (e.g. by the Salesforce CLI).",
        "schema": _optional(format="password"),
    },
    "callback_url": {
        "label": "Callback URL",
        "description": "authorization_code: must equal a Callback URL of the Connected App.",
        "schema": _optional(),
    },
    "api_version": {
        "label": "API Version",
        "description": f"Salesforce REST API version; default {DEFAULT_API_VERSION}.",
        "schema": _optional(default=DEFAULT_API_VERSION),
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "port", "schema"],
    "relabeling": {"login": "Consumer Key", "password": "Consumer Secret"},
    "placeholders": {
        "login": "3MVG9... (Connected App consumer key)",
        "password": "optional for authorization_code with PKCE and for jwt_bearer",
    },
}

CONFIG: dict[str, Any] = {
    "sf360": {
        "description": "Options of the Salesforce 360 provider (airflow-provider-sf360).",
        "options": {
            "allowed_hosts": {
                "description": "Comma-separated host names, beyond Salesforce's own domains, that may receive "
                "tokens (e.g. an emulator on 127.0.0.1). A leading dot allows every sub-domain.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "127.0.0.1,.sf-proxy.example.com",
                "default": "",
            },
            "production_login_url": {
                "description": "Login host for production orgs when a connection sets no Login URL.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "https://login.salesforce.com",
                "default": "https://login.salesforce.com",
            },
            "sandbox_login_url": {
                "description": "Login host for sandbox orgs when a connection sets no Login URL.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "https://test.salesforce.com",
                "default": "https://test.salesforce.com",
            },
            "max_attempts": {
                "description": "How many times a request that failed transiently (network error, timeout, 5xx, 429, "
                "garbled answer) is tried before the error is raised. Permanent failures are never retried.",
                "version_added": "0.1.0",
                "type": "integer",
                "example": "4",
                "default": "4",
            },
            "retry_base_delay": {
                "description": "Seconds before the first retry; doubled each time (jittered), honouring Retry-After.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "0.5",
                "default": "0.5",
            },
            "retry_max_delay": {
                "description": "Longest wait between two tries, in seconds.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "8",
                "default": "8",
            },
            "request_timeout": {
                "description": "Seconds to wait for Salesforce to answer one request.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "30",
                "default": "30",
            },
            "session_timeout": {
                "description": "Seconds an access token is assumed to live when Salesforce cannot say "
                "(introspection needs the consumer secret). Salesforce's default session timeout is 2 hours.",
                "version_added": "0.1.0",
                "type": "integer",
                "example": "900",
                "default": "7200",
            },
        },
    }
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider-info dict Airflow validates against ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-sf360",
        "name": "Salesforce 360 (OAuth)",
        "description": "Salesforce OAuth credentials for Airflow DAGs: set up, reset, test access and delete "
        "tokens of one `sf360` connection; a ready simple-salesforce client that keeps its token fresh.",
        "integrations": [
            {
                "integration-name": "Salesforce 360 (OAuth)",
                "external-doc-url": "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_authenticate.htm",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Salesforce 360 (OAuth)",
                "python-modules": ["airflow_provider_sf360.hooks.sf360"],
            }
        ],
        "operators": [
            {
                "integration-name": "Salesforce 360 (OAuth)",
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
