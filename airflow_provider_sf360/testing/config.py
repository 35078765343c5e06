"""Configuration of the emulated Salesforce world: orgs, users and connected apps.

Everything here is plain data (dataclasses) so it can come from code or from a JSON file.
Field meanings follow ``/work/shared/docs/salesforce.md``: section 12 (Org ID, User ID, sandbox),
section 2 (connected app: consumer key/secret, callback URLs, PKCE, JWT certificate, run-as user),
section 6 (refresh token rotation) and section 7 (session timeout, refresh token policy).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_sf360.core.ids import canonical_id

#: Production org of the default world (salesforce.md section 3/8 worked example IDs).
DEFAULT_ORG_ID = "00D5e000000AbCdEAK"
DEFAULT_MY_DOMAIN = "acme"
#: Production integration user (JWT pre-approved, client-credentials run-as user).
DEFAULT_USER_ID = "0055e000001XyZaAAK"
DEFAULT_USERNAME = "integration@acme.example"
#: A second active user of the production org.
DEFAULT_SECOND_USER_ID = "0055e000001XyZbAAK"
DEFAULT_SECOND_USERNAME = "admin@acme.example"
#: Sandbox org (My Domain ``acme--uat``) and its integration user.
DEFAULT_SANDBOX_ORG_ID = "00D5e000000SbXyEAK"
DEFAULT_SANDBOX_MY_DOMAIN = "acme--uat"
DEFAULT_SANDBOX_USER_ID = "0055e000002UaTzAAK"
DEFAULT_SANDBOX_USERNAME = "integration@acme.example.uat"
#: A user that exists only in the sandbox (not copied from production): gone after a sandbox refresh.
DEFAULT_SANDBOX_ONLY_USER_ID = "0055e000002UaUaAAK"
DEFAULT_SANDBOX_ONLY_USERNAME = "tester@acme.example.uat"
#: The default connected app.
DEFAULT_CONSUMER_KEY = "3MVG9sf360EmulatorDefaultConsumerKey"
DEFAULT_CONSUMER_SECRET = "sf360-emulator-secret"
DEFAULT_CALLBACK_URLS = ("http://localhost:1717/OauthRedirect", "https://127.0.0.1/sf360/callback")
DEFAULT_SCOPES = ("api", "refresh_token", "offline_access", "id", "openid", "profile", "email", "web")
DEFAULT_SESSION_TIMEOUT = 7200
#: The API version the emulated instances serve (``/services/data/vXX.X``, identity ``urls``).
API_VERSION = "62.0"

#: Refresh token policies of a connected app (salesforce.md section 7, "Refresh-token policy").
REFRESH_TOKEN_POLICIES = ("valid_until_revoked", "immediately_expire", "expire_after", "expire_if_unused")
#: ``jwt_certificate`` value meaning "the certificate of the key the emulator generates at start".
GENERATED_CERTIFICATE = "generated"
#: A connected app's "IP Relaxation" policy (help xcloud.connected_app_continuous_ip.htm, "Connected App IP
#: Relaxation and Continuous IP Enforcement"): ``enforce`` (the default: the user's profile IP ranges apply),
#: ``relax_for_refresh_tokens`` (they apply at login, not when a refresh token is redeemed), ``relax`` (they do
#: not apply to this app). The JWT bearer flow always enforces them (same help page).
IP_RELAXATION_POLICIES = ("enforce", "relax_for_refresh_tokens", "relax")


@dataclass
class OrgConfig:
    """An org: Org ID, My Domain name and whether it is a sandbox (salesforce.md sections 1 and 12).

    ``experience_site_urls``: the org's Experience Cloud site URLs (``https://<name>.my.site.com`` or a custom
    URL), accepted as the JWT ``aud`` for the org's users (salesforce.md section 2.3).
    ``enforce_login_ip_ranges_on_every_request``: the org's Session Setting "Enforce login IP ranges on every
    request" (help xcloud.connected_app_continuous_ip.htm): a user outside the profile's Login IP Ranges then
    also loses the sessions already issued (REST, Bulk, userinfo, identity answer as for a dead session).
    """

    org_id: str
    my_domain: str
    is_sandbox: bool = False
    name: str = "Acme"
    experience_site_urls: list[str] = field(default_factory=list)
    enforce_login_ip_ranges_on_every_request: bool = False

    def __post_init__(self) -> None:
        self.org_id = canonical_id(self.org_id)
        self.experience_site_urls = [url.rstrip("/") for url in self.experience_site_urls]
        for url in self.experience_site_urls:
            if not url.startswith("https://"):
                raise ValueError(f"Experience Cloud site URL {url!r} must start with https://")


@dataclass
class UserConfig:
    """A user of one org (salesforce.md section 12: User ID; section 5: deactivated users fail).

    ``copied_from_production``: for a sandbox user, whether the user came with the sandbox copy of
    production (keeps the User ID when the sandbox is refreshed) or was created in the sandbox (gone after a
    refresh). Ignored for production users.
    """

    user_id: str
    org_id: str
    username: str
    active: bool = True
    name: str = "Integration User"
    email: str = ""
    copied_from_production: bool = True

    def __post_init__(self) -> None:
        self.user_id = canonical_id(self.user_id)
        self.org_id = canonical_id(self.org_id)
        if not self.email:
            self.email = self.username


@dataclass
class AppConfig:
    """A connected app (salesforce.md section 2 flows, section 6 rotation, section 7 policies).

    ``jwt_certificate``: ``"generated"`` (the emulator's key, see ``jwt_private_key_pem``), a PEM
    certificate, or ``""`` for no uploaded certificate. ``refresh_token_ttl`` (seconds) is used by the
    ``expire_after`` and ``expire_if_unused`` policies. ``require_secret_for_web_server_flow`` and
    ``require_secret_for_refresh_token_flow`` are the two settings of an External Client App ("Require secret
    for Web Server Flow", "Require secret for Refresh Token Flow", salesforce.md sections 2.2 and 6); the
    old single ``require_secret=`` still works and sets both. ``run_as_username`` is the client-credentials
    run-as user (section 2.4); ``preapproved_usernames`` are admin-approved users for JWT (section 2.3).
    ``ip_relaxation``: one of :data:`IP_RELAXATION_POLICIES`. ``refresh_token_ip_allowlist``: the app's
    refresh-token IP allowlist (CIDR ranges, packaging guide secure_code_ac_eca.htm, salesforce.md section 6);
    empty = no allowlist. The emulator's callers are 127.0.0.1, so a list without it refuses every refresh.
    """

    consumer_key: str
    consumer_secret: str
    callback_urls: list[str] = field(default_factory=list)
    rotation: bool = False
    pkce_required: bool = True
    require_secret_for_web_server_flow: bool = True
    require_secret_for_refresh_token_flow: bool = True
    session_timeout: int = DEFAULT_SESSION_TIMEOUT
    refresh_token_policy: str = "valid_until_revoked"
    refresh_token_ttl: int = 0
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    jwt_certificate: str = GENERATED_CERTIFICATE
    run_as_username: str = ""
    preapproved_usernames: list[str] = field(default_factory=list)
    name: str = "sf360 Emulator App"
    ip_relaxation: str = "enforce"
    refresh_token_ip_allowlist: list[str] = field(default_factory=list)
    #: Backwards compatibility: ``require_secret=X`` sets both per-flow settings, then reads back as ``None``.
    require_secret: bool | None = None

    def __post_init__(self) -> None:
        if self.require_secret is not None:
            self.require_secret_for_web_server_flow = bool(self.require_secret)
            self.require_secret_for_refresh_token_flow = bool(self.require_secret)
            self.require_secret = None
        if self.refresh_token_policy not in REFRESH_TOKEN_POLICIES:
            raise ValueError(
                f"refresh_token_policy {self.refresh_token_policy!r} is not one of {REFRESH_TOKEN_POLICIES}"
            )
        if self.ip_relaxation not in IP_RELAXATION_POLICIES:
            raise ValueError(f"ip_relaxation {self.ip_relaxation!r} is not one of {IP_RELAXATION_POLICIES}")
        for cidr in self.refresh_token_ip_allowlist:
            ipaddress.ip_network(cidr, strict=False)  # ValueError for a malformed range


@dataclass
class EmulatorConfig:
    """The whole emulated world plus emulator switches.

    ``auto_approve``: the authorize GET redirects at once with a code for ``auto_login_username``
    (or, if empty, the first active user of an org reachable from that host) - a test switch.
    """

    orgs: list[OrgConfig] = field(default_factory=list)
    users: list[UserConfig] = field(default_factory=list)
    apps: list[AppConfig] = field(default_factory=list)
    auto_approve: bool = False
    auto_login_username: str = ""

    @classmethod
    def default(cls) -> EmulatorConfig:
        """The documented default world (see the ``DEFAULT_*`` constants of this module)."""
        return cls(
            orgs=[
                OrgConfig(DEFAULT_ORG_ID, DEFAULT_MY_DOMAIN, is_sandbox=False, name="Acme"),
                OrgConfig(DEFAULT_SANDBOX_ORG_ID, DEFAULT_SANDBOX_MY_DOMAIN, is_sandbox=True, name="Acme UAT"),
            ],
            users=[
                UserConfig(DEFAULT_USER_ID, DEFAULT_ORG_ID, DEFAULT_USERNAME, name="Integration User"),
                UserConfig(DEFAULT_SECOND_USER_ID, DEFAULT_ORG_ID, DEFAULT_SECOND_USERNAME, name="Admin User"),
                UserConfig(
                    DEFAULT_SANDBOX_USER_ID, DEFAULT_SANDBOX_ORG_ID, DEFAULT_SANDBOX_USERNAME, name="UAT Integration"
                ),
                UserConfig(
                    DEFAULT_SANDBOX_ONLY_USER_ID, DEFAULT_SANDBOX_ORG_ID, DEFAULT_SANDBOX_ONLY_USERNAME,
                    name="UAT Tester", copied_from_production=False,
                ),
            ],
            apps=[
                AppConfig(
                    DEFAULT_CONSUMER_KEY,
                    DEFAULT_CONSUMER_SECRET,
                    callback_urls=list(DEFAULT_CALLBACK_URLS),
                    run_as_username=DEFAULT_USERNAME,
                    preapproved_usernames=[DEFAULT_USERNAME],
                )
            ],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        """Build from a dict shaped like :meth:`to_dict` (unknown keys are an error).

        An app may give ``jwt_certificate_file`` (a path) instead of ``jwt_certificate``.
        """
        apps = []
        for raw in data.get("apps", []):
            app = dict(raw)
            cert_file = app.pop("jwt_certificate_file", None)
            if cert_file:
                app["jwt_certificate"] = Path(cert_file).read_text()
            apps.append(AppConfig(**app))
        return cls(
            orgs=[OrgConfig(**o) for o in data.get("orgs", [])],
            users=[UserConfig(**u) for u in data.get("users", [])],
            apps=apps,
            auto_approve=bool(data.get("auto_approve", False)),
            auto_login_username=str(data.get("auto_login_username", "")),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> EmulatorConfig:
        """Read :meth:`from_dict` data from a JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, the format of :meth:`from_dict` and of the JSON config file."""
        return asdict(self)

    def validate(self) -> None:
        """Check cross references; raise ``ValueError`` with the reason."""
        org_ids = {o.org_id for o in self.orgs}
        domains = [o.my_domain for o in self.orgs]
        if len(set(domains)) != len(domains):
            raise ValueError("My Domain names must be unique")
        names = [u.username.lower() for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError("usernames must be unique (Salesforce usernames are global)")
        for u in self.users:
            if u.org_id not in org_ids:
                raise ValueError(f"user {u.username} belongs to unknown org {u.org_id}")
        for a in self.apps:
            for n in [a.run_as_username, *a.preapproved_usernames]:
                if n and n.lower() not in names:
                    raise ValueError(f"app {a.consumer_key}: unknown user {n}")
