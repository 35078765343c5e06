"""Which hosts may receive a token: https, and a Salesforce domain or an admin-listed host."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow_provider_sf360.core.errors import UntrustedHostError

ACCEPTED_URL_CACHE_SIZE = 2048  # URLs are at most 2,048 characters: at most ~4 MB
PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"

# The only hosts a secret goes to without an admin listing more in [sf360] allowed_hosts: Salesforce's login
# hosts and My Domain hosts (help "My Domain URL Formats": <name>.my.salesforce.com, <name>--<sandbox>.sandbox.
# my.salesforce.com, <name>-dev-ed.develop.my.salesforce.com...; Government Cloud Plus uses my.salesforce.mil).
# Never hosts where customers publish pages (Salesforce Sites and Experience Cloud: *.my.site.com,
# *.salesforce-sites.com, *.force.com), which could receive a secret posted to a path of theirs.
SALESFORCE_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
MY_DOMAIN_SUFFIXES = (".my.salesforce.com", ".my.salesforce.mil")


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
    """True for Salesforce's login hosts and My Domain hosts (never Sites or Experience Cloud page hosts)."""
    host = host.lower().rstrip(".")
    if host in SALESFORCE_LOGIN_HOSTS:
        return True
    return any(host.endswith(suffix) and len(host) > len(suffix) for suffix in MY_DOMAIN_SUFFIXES)


def is_allowed_host(host: str, settings: ProviderSettings) -> bool:
    """True for a Salesforce login or My Domain host, or one in ``[sf360] allowed_hosts`` (``.x.com`` = suffix)."""
    host = host.lower().rstrip(".")
    if is_salesforce_host(host):
        return True
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in settings.allowed_hosts)


# The parser rule: a URL that will carry a secret must be read the same way by this check and by the code that
# sends it (requests prepares it with urllib3's ``parse_url``; its adapter reads the prepared URL again with
# ``urllib.parse``). Rather than reason about their differences, the check accepts only a plain subset of URLs
# that all three read alike, rebuilds the URL from the checked parts, and refuses it unless every parser then
# reads the same scheme, host and port.
MAX_URL_LENGTH = 2048
_UNSAFE_URL_CHARS = re.compile(r"[^\x21-\x7e]|\\")  # whitespace, control, non-ASCII characters, backslash
_AUTHORITY = re.compile(
    r"^(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?)(?::(?P<port>[0-9]{1,5}))?$"
)
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class TrustedUrl:
    """An https URL whose parts passed the allow-list; :attr:`url` is the URL rebuilt from them."""

    host: str  # lower case; an IPv6 literal without its brackets
    port: int | None
    path: str
    query: str

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.netloc}{self.path}" + (f"?{self.query}" if self.query else "")


class UrlRefusedError(ValueError):
    """Why a URL may not receive a secret (raised by :func:`check_trusted_url`)."""


def _host_shape_problem(host: str) -> str | None:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "is not a valid IPv6 address"
        return None
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return "is not a valid host name"
    return None


def _split_checked(url: str) -> TrustedUrl:
    """The URL's parts if it is a plain https URL; raises :class:`UrlRefusedError` otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefusedError(f"is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE_URL_CHARS.search(url):
        raise UrlRefusedError("contains a space, backslash, control or non-ASCII character")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "https":
        raise UrlRefusedError("must start with https:// (tokens are only sent over HTTPS)")
    authority, path, query = _split_rest(rest)
    if "@" in authority:
        raise UrlRefusedError("contains a user name or password ('@' before the host); remove it")
    match = _AUTHORITY.match(authority.lower())
    if not authority:
        raise UrlRefusedError("has no host name")
    if match is None:
        raise UrlRefusedError("has a malformed host or port")
    host, port_text = match.group("host"), match.group("port")
    problem = _host_shape_problem(host)
    if problem:
        raise UrlRefusedError(f"{problem} in its host")
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise UrlRefusedError("has a port outside 1-65535")
    return TrustedUrl(host=host.strip("[]"), port=None if port == 443 else port, path=path, query=query)


def host_of(url: str) -> str:
    """The host of a checked https URL as the sending parser reads it (lower case, no port).

    :param url: a URL that passed :func:`check_trusted_url` (the Login URL of valid credentials).
    :raises UrlRefusedError: when it is no plain https URL.
    """
    return _split_checked(url).host


def _split_rest(rest: str) -> tuple[str, str, str]:
    """Authority, path and query of what follows ``https://``; a fragment is refused."""
    if "#" in rest:
        raise UrlRefusedError("has a fragment ('#'); remove it")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    path, _, query = tail.partition("?")
    if path and not path.startswith("/"):
        path = "/" + path
    return authority, path, query


def _sent_host_and_port(url: str) -> set[tuple[str, int]]:
    """Where requests would connect for ``url``: as urllib3 parses it and as its adapter re-reads it."""
    from requests.models import PreparedRequest  # requests and urllib3 cost ~50 ms: only when a URL is checked
    from urllib3.util import parse_url

    prepared = PreparedRequest()
    prepared.prepare_url(url, None)
    sent = str(prepared.url)
    seen = set()
    for raw in (url, sent):
        parsed = parse_url(raw)
        seen.add(((parsed.host or "").strip("[]").lower(), parsed.port or 443))
        split = urlsplit(raw)
        seen.add(((split.hostname or "").lower(), split.port or 443))
    return seen


def check_trusted_url(url: str, settings: ProviderSettings) -> TrustedUrl:
    """Check a URL that will receive a secret and return its parts; raises :class:`ValueError` saying why not.

    The URL must be plain https with an allow-listed host (see the parser rule above ``TrustedUrl``). Accepted
    URLs are remembered (the check is pure; an API client asks about the same few URLs on every call).

    :param url: the URL as found in a connection field, a Salesforce answer or a redirect.
    :param settings: the ``[sf360]`` options (``allowed_hosts``).
    """
    return _accepted_url(url, settings)


@functools.lru_cache(maxsize=ACCEPTED_URL_CACHE_SIZE)
def _accepted_url(url: str, settings: ProviderSettings) -> TrustedUrl:
    checked = _split_checked(url)
    if not is_allowed_host(checked.host, settings):
        raise UrlRefusedError(
            f"names the host {checked.host!r}, which is not a Salesforce login or My Domain host; secrets are only "
            "sent to login.salesforce.com, test.salesforce.com, <MyDomain>.my.salesforce.com hosts, or hosts an "
            "admin lists in the [sf360] allowed_hosts option"
        )
    try:
        sent = _sent_host_and_port(checked.url)
    except Exception:  # any parser failure means the URL is not plain enough
        raise UrlRefusedError("cannot be read by the HTTP client") from None
    if sent != {(checked.host, checked.port or 443)}:
        raise UrlRefusedError("is read differently by the HTTP client than by this check")
    return checked


def url_problem(url: str, settings: ProviderSettings) -> str | None:
    """Say what is wrong with a URL that will receive tokens, or return None when it is fine."""
    try:
        check_trusted_url(url, settings)
    except UrlRefusedError as refused:
        return f"{_shown(url)} {refused}"
    return None


def _shown(url: str) -> str:
    """The URL for a message: repr (control characters escaped), cut to a readable length."""
    return repr(url if len(url) <= 120 else url[:120] + "...")


def rebuild_trusted_url(url: str, settings: ProviderSettings, what: str) -> str:
    """The URL rebuilt from its checked parts (path kept as is), or raise :class:`UntrustedHostError`.

    :param url: the URL that will receive a secret.
    :param settings: the ``[sf360]`` options.
    :param what: what the URL is, for the message (e.g. "token endpoint").
    """
    try:
        return check_trusted_url(url, settings).url
    except UrlRefusedError as refused:
        raise UntrustedHostError(f"Refusing to send a token to the {what}: {_shown(url)} {refused}.") from None


def require_trusted_url(url: str, settings: ProviderSettings, what: str) -> str:
    """The rebuilt URL without a trailing slash, or raise :class:`UntrustedHostError` naming ``what``.

    :param url: the URL that will receive a secret.
    :param settings: the ``[sf360]`` options.
    :param what: what the URL is, for the message (e.g. "token endpoint").
    """
    return rebuild_trusted_url(url, settings, what).rstrip("/")


def is_sandbox_my_domain(host: str) -> bool:
    """True for an enhanced-domain sandbox host (``<name>--<sandbox>.sandbox.my.salesforce.com``)."""
    return host.lower().endswith(".sandbox.my.salesforce.com")


def is_production_my_domain(host: str) -> bool:
    """True for a production My Domain host (``<name>.my.salesforce.com``)."""
    host = host.lower()
    return host.endswith(".my.salesforce.com") and not is_sandbox_my_domain(host)
