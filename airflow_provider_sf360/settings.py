"""The provider's ``[sf360]`` options, read from Airflow's configuration."""

from __future__ import annotations

from airflow_provider_sf360.core.hosts import PRODUCTION_LOGIN_URL, SANDBOX_LOGIN_URL, ProviderSettings

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


def assumed_session_timeout() -> int:
    """Seconds an access token is assumed to live when introspection cannot tell."""
    try:
        return max(60, int(_option("session_timeout", str(DEFAULT_SESSION_TIMEOUT))))
    except ValueError:
        return DEFAULT_SESSION_TIMEOUT
