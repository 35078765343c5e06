"""The provider's ``[sf360]`` options in force, read from Airflow's configuration (defaults: ``core/options.py``)."""

from __future__ import annotations

from airflow.sdk import conf

from airflow_provider_sf360.core.hosts import ProviderSettings
from airflow_provider_sf360.core.options import SECTION, default
from airflow_provider_sf360.core.retry import RetryPolicy

RENEWAL_MODES = ("auto", "api_server", "local")


def _option(key: str) -> str:
    fallback = default(key)
    return str(conf.get(SECTION, key, fallback=fallback) or fallback)


def _number(key: str, minimum: float) -> float:
    try:
        return max(minimum, float(_option(key)))
    except ValueError:
        return float(default(key))


def provider_settings() -> ProviderSettings:
    """Hosts that may receive tokens and the default login hosts."""
    return ProviderSettings.from_options(
        allowed_hosts=_option("allowed_hosts"),
        production_login_url=_option("production_login_url"),
        sandbox_login_url=_option("sandbox_login_url"),
    )


def assumed_session_timeout() -> float:
    """Seconds an access token is assumed to live when introspection cannot tell."""
    return _number("session_timeout", 60)


def retry_policy() -> RetryPolicy:
    """Bounded retries of transient failures: ``[sf360] max_attempts`` tries, backoff from ``retry_base_delay``."""
    return RetryPolicy(
        attempts=int(_number("max_attempts", 1)),
        base_delay=_number("retry_base_delay", 0.0),
        max_delay=_number("retry_max_delay", 0.0),
    )


def request_timeout() -> float:
    """Seconds to wait for Salesforce to answer one request (``[sf360] request_timeout``)."""
    return _number("request_timeout", 0.1)


def refresh_timeout() -> float:
    """Seconds to wait for the answer to a request that consumes a refresh token or code."""
    return _number("refresh_timeout", 1.0)


def lock_wait_timeout() -> float:
    """Seconds a renewal waits for another renewer of the same credential."""
    return _number("lock_wait_timeout", 1.0)


def keep_alive_seconds() -> float | None:
    """Seconds a refresh token may go unused before an access test redeems it (None: never)."""
    days = _number("keep_alive_days", 0.0)
    return days * 86_400 if days > 0 else None


def renewal_mode() -> str:
    """``auto``, ``api_server`` or ``local`` (an unknown value means ``auto``)."""
    mode = _option("renewal").strip().lower()
    return mode if mode in RENEWAL_MODES else "auto"


def allow_unencrypted_tokens() -> bool:
    """Whether tokens may be stored without a Fernet key (throwaway setups only)."""
    return _option("allow_unencrypted_tokens").strip().lower() in ("true", "1", "yes")


def multi_team_enabled() -> bool:
    """Whether Airflow runs with ``[core] multi_team`` (connections and Variables then belong to teams)."""
    return conf.getboolean("core", "multi_team", fallback=False)
