"""The provider's ``[sf360]`` options: one table, read by ``get_provider_info()`` (Airflow's config reference),
``settings.py`` (the values in force) and the README's option table (checked by a test). Pure module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTION = "sf360"


@dataclass(frozen=True)
class Option:
    """One ``[sf360]`` option as Airflow's provider-info ``config`` schema describes it."""

    default: str
    type: str
    description: str
    example: str
    version_added: str = "0.1.0"


OPTIONS: dict[str, Option] = {
    "allowed_hosts": Option(
        "", "string",
        "Comma-separated host names, beyond Salesforce's own domains, that may receive tokens (e.g. an emulator on "
        "127.0.0.1). A leading dot allows every sub-domain.",
        "127.0.0.1,.sf-proxy.example.com",
    ),
    "production_login_url": Option(
        "https://login.salesforce.com", "string",
        "Login host for production orgs when a connection sets no Login URL.", "https://login.salesforce.com",
    ),
    "sandbox_login_url": Option(
        "https://test.salesforce.com", "string",
        "Login host for sandbox orgs when a connection sets no Login URL.", "https://test.salesforce.com",
    ),
    "max_attempts": Option(
        "4", "integer",
        "How many times a request that failed transiently (no connection, 5xx, 429, garbled answer) is tried before "
        "the error is raised. Permanent failures are never retried; a refresh grant whose answer was lost is never "
        "re-sent blindly.",
        "4",
    ),
    "retry_base_delay": Option(
        "0.5", "float", "Seconds before the first retry; doubled each time (jittered), honouring Retry-After.", "0.5",
    ),
    "retry_max_delay": Option("8", "float", "Longest wait between two tries, in seconds.", "8"),
    "request_timeout": Option("30", "float", "Seconds to wait for Salesforce to answer one request.", "30"),
    "refresh_timeout": Option(
        "120", "float",
        "Seconds to wait for the answer to a request that consumes a refresh token or an authorization code. "
        "Longer than request_timeout on purpose: giving up does not stop Salesforce from processing the request, "
        "and its answer carries the only copy of the rotated refresh token. A task that asks the api-server to "
        "renew waits for its answer longer than the api-server may take: 3 x lock_wait_timeout + 6 Salesforce "
        "calls x max_attempts x (request_timeout + this) + the retries' delays + 30 s.",
        "120", "0.2.0",
    ),
    "session_timeout": Option(
        "7200", "integer",
        "Seconds an access token is assumed to live when Salesforce cannot say (introspection needs the consumer "
        "secret). Salesforce's default session timeout is 2 hours.",
        "900",
    ),
    "renewal": Option(
        "auto", "string",
        "Where tasks renew refresh tokens. auto: through the api-server (under a metadata-DB row lock) in real task "
        "runs, and under the same row lock in the task itself under dag.test() / airflow tasks test, which have the "
        "metadata DB. api_server forces the api-server even there; local renews in the task under a host lock, "
        "which is only safe when every task using a credential runs on one host.",
        "auto", "0.2.0",
    ),
    "api_server_url": Option(
        "", "string",
        "Base URL at which tasks reach the api-server that runs the core API (UI) with this provider: its sf360 "
        "API is <base>/sf360/api. Needed when the Execution API is served by another api-server (airflow "
        "api-server --apps execution) or reached under another name. Unset, tasks derive it like their own "
        "Execution API client: [core] execution_api_server_url, else [edge] api_url, else an absolute [api] "
        "base_url; with none of them set, renewals fail with a message naming this option.",
        "http://airflow-api:8080", "0.2.0",
    ),
    "lock_wait_timeout": Option(
        "300", "float",
        "Seconds a renewal waits for another process renewing the same credential before it gives up (retryably). "
        "On the api-server it bounds each wait of a task's renewal request (its turn in the api-server's queue, the "
        "host lock, the metadata-DB lock); the task waits for the answer longer than all of them together plus the "
        "grant (see refresh_timeout), so it never gives up while the api-server may still redeem.",
        "300", "0.2.0",
    ),
    "keep_alive_days": Option(
        "7", "float",
        "An access test (the scheduled connectivity check, the page, sf360 test) redeems a refresh token that went "
        "unused for longer than this many days, so that an app's 'expire refresh token if not used for N days' "
        "policy never ends it. Keep it well below N; 0 turns it off.",
        "7", "0.2.0",
    ),
    "allow_unencrypted_tokens": Option(
        "False", "boolean",
        "Store tokens even when [core] fernet_key is empty (unencrypted in the metadata DB). Only for throwaway "
        "setups; by default the provider refuses.",
        "False", "0.2.0",
    ),
}


def config_section() -> dict[str, Any]:
    """The ``config`` entry of ``get_provider_info()``."""
    return {
        SECTION: {
            "description": "Options of the Salesforce 360 provider (airflow-provider-sf360).",
            "options": {
                name: {
                    "description": option.description,
                    "version_added": option.version_added,
                    "type": option.type,
                    "example": option.example,
                    "default": option.default,
                }
                for name, option in OPTIONS.items()
            },
        }
    }


def default(name: str) -> str:
    """The default of one option."""
    return OPTIONS[name].default
