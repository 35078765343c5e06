"""The provider's ``[sf360]`` options, read from Airflow's configuration."""

from __future__ import annotations

from airflow_provider_sf360.core.hosts import PRODUCTION_LOGIN_URL, SANDBOX_LOGIN_URL, ProviderSettings
from airflow_provider_sf360.core.retry import RetryPolicy

SECTION = "sf360"
DEFAULT_SESSION_TIMEOUT = 7200


def _option(key: str, fallback: str) -> str:
    from airflow.sdk import conf

    return str(conf.get(SECTION, key, fallback=fallback) or fallback)


def provider_settings() -> ProviderSettings:
    """Hosts that may receive tokens and the default login hosts."""
    return ProviderSettings.from_options(
        allowed_hosts=_option("allowed_hosts", ""),
        production_login_url=_option("production_login_url", PRODUCTION_LOGIN_URL),
        sandbox_login_url=_option("sandbox_login_url", SANDBOX_LOGIN_URL),
    )


def assumed_session_timeout() -> float:
    """Seconds an access token is assumed to live when introspection cannot tell."""
    return _number("session_timeout", DEFAULT_SESSION_TIMEOUT, 60)


def _number(key: str, fallback: float, minimum: float) -> float:
    try:
        return max(minimum, float(_option(key, str(fallback))))
    except ValueError:
        return fallback


def retry_policy() -> RetryPolicy:
    """Bounded retries of transient failures: ``[sf360] max_attempts`` tries, backoff from ``retry_base_delay``."""
    return RetryPolicy(
        attempts=int(_number("max_attempts", 4, 1)),
        base_delay=_number("retry_base_delay", 0.5, 0.0),
        max_delay=_number("retry_max_delay", 8.0, 0.0),
    )


def request_timeout() -> float:
    """Seconds to wait for Salesforce to answer one request (``[sf360] request_timeout``)."""
    return _number("request_timeout", 30.0, 0.1)
