"""Which hosts may receive a token: https, and a Salesforce domain or an admin-listed host."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow_provider_sf360.core.errors import UntrustedHostError

PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"

# Domains Salesforce serves logins, instances and APIs from (help "OAuth Endpoints", "My Domain URL formats").
SALESFORCE_DOMAINS = (
    "salesforce.com",
    "force.com",
    "cloudforce.com",
    "database.com",
    "site.com",
    "salesforce-sites.com",
    "salesforce.mil",
)


@dataclass(frozen=True)
class ProviderSettings:
    """The provider's ``[sf360]`` options that the pure core needs."""

    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    production_login_url: str = PRODUCTION_LOGIN_URL
    sandbox_login_url: str = SANDBOX_LOGIN_URL

    @classmethod
    def from_options(
        cls,
        allowed_hosts: str | Iterable[str] | None = None,
        production_login_url: str | None = None,
        sandbox_login_url: str | None = None,
    ) -> ProviderSettings:
        """Build settings from raw option values (``allowed_hosts`` comma-separated or a list)."""
        if isinstance(allowed_hosts, str):
            allowed_hosts = allowed_hosts.split(",")
        hosts = frozenset(h.strip().lower() for h in allowed_hosts or () if h.strip())
        return cls(
            allowed_hosts=hosts,
            production_login_url=(production_login_url or PRODUCTION_LOGIN_URL).rstrip("/"),
            sandbox_login_url=(sandbox_login_url or SANDBOX_LOGIN_URL).rstrip("/"),
        )


def is_salesforce_host(host: str) -> bool:
    """True for a host under one of Salesforce's own domains."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in SALESFORCE_DOMAINS)


def is_allowed_host(host: str, settings: ProviderSettings) -> bool:
    """True for a Salesforce host, or one listed in ``[sf360] allowed_hosts`` (``.example.com`` = suffix)."""
    host = host.lower().rstrip(".")
    if is_salesforce_host(host):
        return True
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in settings.allowed_hosts)


def url_problem(url: str, settings: ProviderSettings) -> str | None:
    """Say what is wrong with a URL that will receive tokens, or return None when it is fine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme != "https":
        return f"{url!r} must start with https:// (tokens are only sent over HTTPS)"
    if not host:
        return f"{url!r} has no host name"
    if not is_allowed_host(host, settings):
        return (
            f"{host!r} is not a Salesforce host; tokens are only sent to Salesforce domains "
            "or to hosts an admin lists in the [sf360] allowed_hosts option"
        )
    return None


def require_trusted_url(url: str, settings: ProviderSettings, what: str) -> str:
    """Return ``url`` without a trailing slash, or raise :class:`UntrustedHostError` naming ``what``."""
    problem = url_problem(url, settings)
    if problem:
        raise UntrustedHostError(f"Refusing to send a token to the {what}: {problem}.")
    return url.rstrip("/")


def is_sandbox_my_domain(host: str) -> bool:
    """True for an enhanced-domain sandbox host (``<name>--<sandbox>.sandbox.my.salesforce.com``)."""
    return host.lower().endswith(".sandbox.my.salesforce.com")


def is_production_my_domain(host: str) -> bool:
    """True for a production My Domain host (``<name>.my.salesforce.com``)."""
    host = host.lower()
    return host.endswith(".my.salesforce.com") and not is_sandbox_my_domain(host)
