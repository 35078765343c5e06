"""The validated, immutable credentials of one ``sf360`` connection.

:func:`credentials_from_connection_fields` checks every field before any network call and reports all
problems at once, each naming its field, what is wrong and how to fix it. Pure module, no Airflow import.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sf360.core.errors import CredentialsInvalidError
from airflow_provider_sf360.core.hosts import (
    MAX_URL_LENGTH,
    ProviderSettings,
    check_trusted_url,
    is_production_my_domain,
    is_sandbox_my_domain,
    url_problem,
)
from airflow_provider_sf360.core.ids import InvalidSalesforceIdError, parse_org_id, parse_user_id
from airflow_provider_sf360.core.state_keys import token_key

DEFAULT_API_VERSION = "64.0"
DEFAULT_CALLBACK_URL = "http://localhost:1717/OauthRedirect"


class AuthFlow(str, Enum):
    """How the provider obtains tokens for a connection."""

    AUTHORIZATION_CODE = "authorization_code"
    JWT_BEARER = "jwt_bearer"
    CLIENT_CREDENTIALS = "client_credentials"
    REFRESH_TOKEN = "refresh_token"


# Labels as shown in the connection form; errors name fields by these.
FIELD_LABELS = {
    "org_id": "Salesforce Org ID",
    "user_id": "Salesforce User ID",
    "is_sandbox": "Use salesforce.com Sandbox",
    "auth_flow": "OAuth flow",
    "login": "Consumer Key",
    "password": "Consumer Secret",
    "login_url": "Login URL (My Domain)",
    "username": "Salesforce Username",
    "private_key": "Private Key (PEM)",
    "refresh_token": "Refresh Token",
    "callback_url": "Callback URL",
    "api_version": "API Version",
    "jwt_audience": "JWT Audience",
}

# The longest value each field may hold, checked before anything else reads it (no regex or parser ever sees
# more). Generous: Salesforce IDs are 18 characters, consumer keys ~85, secrets 64, an RSA-8192 PEM key ~6.4 KB.
FIELD_MAX_LENGTHS = {
    "org_id": 64,
    "user_id": 64,
    "is_sandbox": 16,
    "auth_flow": 64,
    "login": 512,
    "password": 512,
    "login_url": MAX_URL_LENGTH,
    "username": 256,
    "private_key": 16 * 1024,
    "refresh_token": 8 * 1024,
    "callback_url": MAX_URL_LENGTH,
    "api_version": 16,
    "jwt_audience": MAX_URL_LENGTH,
}

_API_VERSION = re.compile(r"^\d{2,3}\.0$")
_DASHES = "-" * 5  # PEM armour: a "BEGIN <label>" line between five dashes, the base64 body, an "END" line
_PEM_BEGIN = f"{_DASHES}BEGIN "
_PEM_LABEL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")


@dataclass(frozen=True)
class SF360Credentials:
    """Static configuration of one connection; secrets are left out of ``repr``."""

    conn_id: str
    org_id: str
    user_id: str
    is_sandbox: bool
    auth_flow: AuthFlow
    consumer_key: str
    login_url: str
    api_version: str = DEFAULT_API_VERSION
    callback_url: str | None = None
    username: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    jwt_audience: str | None = None

    @property
    def token_url(self) -> str:
        """The token endpoint on the login host."""
        return f"{self.login_url}/services/oauth2/token"

    @property
    def authorize_url(self) -> str:
        """The authorize endpoint (web server flow) on the login host."""
        return f"{self.login_url}/services/oauth2/authorize"

    @property
    def state_key(self) -> str:
        """The Variable key of this connection's own token state (made from the connection id alone)."""
        return token_key(self.conn_id)

    @property
    def app_fingerprint(self) -> str:
        """A short name for the app the token is issued to (consumer key and login URL); no secret."""
        return hashlib.sha256(f"{self.consumer_key}|{self.login_url}".encode()).hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        """Non-secret summary for logs, XComs and pages."""
        return {
            "conn_id": self.conn_id,
            "org_id": self.org_id,
            "user_id": self.user_id,
            "is_sandbox": self.is_sandbox,
            "auth_flow": self.auth_flow.value,
            "login_url": self.login_url,
            "api_version": self.api_version,
        }


def _text(value: Any) -> str | None:
    """Form fields arrive as None, "" or text; treat empty and missing alike."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _boolean(value: Any) -> bool | None:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    return None


def pem_block(text: str) -> tuple[str, str] | None:
    """The label and body of the first PEM block in ``text``, or None; linear time (``str.find`` only).

    :param text: a pasted PEM text, possibly on one line.
    """
    begin = text.find(_PEM_BEGIN)
    if begin < 0:
        return None
    label_start = begin + len(_PEM_BEGIN)
    label_end = text.find(_DASHES, label_start)
    label = text[label_start:label_end] if label_end >= 0 else ""
    if not label or not _PEM_LABEL_CHARS.issuperset(label):
        return None
    body_start = label_end + len(_DASHES)
    body_end = text.find(f"{_DASHES}END {label}{_DASHES}", body_start)
    if body_end <= body_start:
        return None
    return label, text[body_start:body_end]


def normalize_pem(text: str) -> str:
    """Restore line breaks of a PEM block pasted into a single-line input."""
    block = pem_block(text)
    if block is None:
        return text
    label, body = block[0], "".join(block[1].split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"{_DASHES}BEGIN {label}{_DASHES}", *lines, f"{_DASHES}END {label}{_DASHES}", ""])


def private_key_problem(pem: str) -> str | None:
    """Say what is wrong with a PEM private key for RS256 signing, or None."""
    block = pem_block(pem)
    if block is None or not block[0].endswith("PRIVATE KEY"):
        return "is not a PEM private key (expected a 'BEGIN PRIVATE KEY' line, the base64 body, an 'END' line)"
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        # Full RSA validation (~27 ms) happens anyway when the key signs; here we only check the shape.
        key = load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        return (
            "could not be read: paste the whole unencrypted PEM key "
            "(an encrypted key must be decrypted first, e.g. openssl pkey -in key.pem)"
        )
    if not isinstance(key, RSAPrivateKey):
        return "is not an RSA key; Salesforce's JWT bearer flow needs RS256 (an RSA key of 2048 bits or more)"
    return None


def _login_url_problems(url: str, is_sandbox: bool, flow: AuthFlow, settings: ProviderSettings) -> list[str]:
    label = FIELD_LABELS["login_url"]
    problem = url_problem(url, settings)
    if problem:
        return [f"{label}: {problem}."]
    checked = check_trusted_url(url, settings)
    host = checked.host
    problems = []
    if checked.query:
        problems.append(f"{label}: remove the '?{_short_text(checked.query)}' part; enter only https://<host>.")
    if checked.path.strip("/"):
        problems.append(
            f"{label}: remove the path {_short_text(checked.path)!r}; enter only https://<host> (the provider adds "
            "Salesforce's own /services/oauth2/... paths, and a secret is never sent to any other path)."
        )
    if is_sandbox and (is_production_my_domain(host) or host == "login.salesforce.com"):
        problems.append(
            f"{label}: {host!r} is a production host but 'Use salesforce.com Sandbox' is on; "
            "use the sandbox's URL (…--<sandbox>.sandbox.my.salesforce.com or test.salesforce.com) "
            "or switch the sandbox box off."
        )
    if not is_sandbox and (is_sandbox_my_domain(host) or host == "test.salesforce.com"):
        problems.append(
            f"{label}: {host!r} is a sandbox host but 'Use salesforce.com Sandbox' is off; "
            "switch the sandbox box on or use the production My Domain URL."
        )
    if flow is AuthFlow.CLIENT_CREDENTIALS and host in ("login.salesforce.com", "test.salesforce.com"):
        problems.append(
            f"{label}: the client credentials flow only works on the org's My Domain host "
            "(https://<MyDomain>.my.salesforce.com), not on login/test.salesforce.com."
        )
    return problems


@dataclass
class _Collector:
    """Gathers every problem so that one error can list them all."""

    problems: list[str] = field(default_factory=list)
    oversized: set[str] = field(default_factory=set)

    def sized(self, key: str, value: Any) -> Any:
        """``value``, or None (and a problem) when it is longer than ``FIELD_MAX_LENGTHS[key]``."""
        if value is None or isinstance(value, bool):
            return value
        length = len(value if isinstance(value, str) else str(value))
        if length <= FIELD_MAX_LENGTHS[key]:
            return value
        self.oversized.add(key)
        self.problems.append(
            f"{FIELD_LABELS[key]}: too long ({length} characters, at most {FIELD_MAX_LENGTHS[key]}); "
            "paste only the value itself."
        )
        return None

    def require(self, value: str | None, key: str, why: str) -> None:
        if value is None and key not in self.oversized:
            self.problems.append(f"{FIELD_LABELS[key]}: missing; {why}.")

    def salesforce_id(self, raw: str | None, key: str, parse: Callable[[str], str]) -> str:
        if key in self.oversized:
            return ""
        if raw is None:
            self.problems.append(f"{FIELD_LABELS[key]}: missing; enter the 15 or 18-character ID.")
            return ""
        try:
            return parse(raw)
        except InvalidSalesforceIdError as exc:
            self.problems.append(str(exc))
            return ""


def credentials_from_connection_fields(
    conn_id: str,
    extra: Mapping[str, Any],
    login: str | None,
    password: str | None,
    settings: ProviderSettings,
) -> SF360Credentials:
    """Validate a connection's fields and return its credentials, or raise one error listing every problem.

    :param conn_id: the connection's id, named in the error.
    :param extra: the connection's extra fields (decoded JSON).
    :param login: the Consumer Key.
    :param password: the Consumer Secret.
    :param settings: the ``[sf360]`` options.
    """
    check = _Collector()
    if not isinstance(extra, Mapping):
        raise CredentialsInvalidError(
            conn_id, [f"Extra: a JSON {type(extra).__name__}, not an object; edit the connection's fields in the form."]
        )
    extra = {key: check.sized(key, extra.get(key)) for key in FIELD_MAX_LENGTHS if key not in ("login", "password")}
    login, password = check.sized("login", login), check.sized("password", password)
    org_id = check.salesforce_id(_text(extra.get("org_id")), "org_id", parse_org_id)
    user_id = check.salesforce_id(_text(extra.get("user_id")), "user_id", parse_user_id)

    is_sandbox = _boolean(extra.get("is_sandbox"))
    if is_sandbox is None:
        check.problems.append(f"{FIELD_LABELS['is_sandbox']}: {extra.get('is_sandbox')!r} is not true or false.")
        is_sandbox = False

    flow_text = _text(extra.get("auth_flow")) or AuthFlow.AUTHORIZATION_CODE.value
    try:
        flow = AuthFlow(flow_text)
    except ValueError:
        choices = ", ".join(f.value for f in AuthFlow)
        check.problems.append(f"{FIELD_LABELS['auth_flow']}: {flow_text!r} is not one of {choices}.")
        flow = AuthFlow.AUTHORIZATION_CODE

    consumer_key = _text(login)
    check.require(consumer_key, "login", "copy the Consumer Key from the Connected App's API (OAuth) settings")
    consumer_secret = _text(password)
    username = _text(extra.get("username"))
    private_key = _text(extra.get("private_key"))
    refresh_token = _text(extra.get("refresh_token"))
    explicit_login_url = _text(extra.get("login_url"))

    if flow is AuthFlow.CLIENT_CREDENTIALS:
        check.require(consumer_secret, "password", "the client credentials flow needs the Consumer Secret")
        check.require(explicit_login_url, "login_url", "the client credentials flow needs the My Domain URL")
    if flow is AuthFlow.JWT_BEARER:
        check.require(username, "username", "the JWT bearer flow signs in as this Salesforce username")
        check.require(private_key, "private_key", "paste the private key whose certificate the app holds")
        if private_key:
            private_key = normalize_pem(private_key)
            problem = private_key_problem(private_key)
            if problem:
                check.problems.append(f"{FIELD_LABELS['private_key']}: {problem}.")
    if flow is AuthFlow.REFRESH_TOKEN:
        check.require(refresh_token, "refresh_token", "paste a refresh token issued for this app and user")

    login_url = explicit_login_url or (settings.sandbox_login_url if is_sandbox else settings.production_login_url)
    login_url = login_url.rstrip("/")
    if explicit_login_url:
        check.problems.extend(_login_url_problems(login_url, is_sandbox, flow, settings))
    else:
        problem = url_problem(login_url, settings)
        if problem:
            check.problems.append(f"{FIELD_LABELS['login_url']} (default from [sf360] options): {problem}.")
    if not url_problem(login_url, settings):
        login_url = check_trusted_url(login_url, settings).url.rstrip("/")  # send only what was checked

    callback_url = _text(extra.get("callback_url"))
    if callback_url and not _plain_https_url(callback_url, http_on_loopback=True):
        check.problems.append(
            f"{FIELD_LABELS['callback_url']}: {callback_url!r} must be an https URL "
            "(http is only allowed for localhost), exactly as entered in the Connected App."
        )

    jwt_audience = _text(extra.get("jwt_audience"))
    if jwt_audience and not _plain_https_url(jwt_audience):
        check.problems.append(
            f"{FIELD_LABELS['jwt_audience']}: {_short_text(jwt_audience)!r} must be an https URL (an Experience Cloud "
            "site's URL); leave it empty to sign for https://login.salesforce.com or https://test.salesforce.com."
        )

    api_version = (_text(extra.get("api_version")) or DEFAULT_API_VERSION).lstrip("vV")
    if not _API_VERSION.match(api_version):
        check.problems.append(
            f"{FIELD_LABELS['api_version']}: {api_version!r} is not a Salesforce API version such as "
            f"{DEFAULT_API_VERSION}."
        )

    if check.problems:
        raise CredentialsInvalidError(conn_id, check.problems)
    return SF360Credentials(
        conn_id=conn_id,
        org_id=org_id,
        user_id=user_id,
        is_sandbox=is_sandbox,
        auth_flow=flow,
        consumer_key=consumer_key or "",
        login_url=login_url,
        api_version=api_version,
        callback_url=callback_url,
        username=username,
        consumer_secret=consumer_secret,
        private_key=private_key,
        refresh_token=refresh_token,
        jwt_audience=jwt_audience if flow is AuthFlow.JWT_BEARER else None,
    )


def _short_text(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _plain_https_url(url: str, *, http_on_loopback: bool = False) -> bool:
    """An https URL with a host and no user info, spaces or control characters (http too on loopback if allowed)."""
    if "@" in url or "\\" in url or any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    return http_on_loopback and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
