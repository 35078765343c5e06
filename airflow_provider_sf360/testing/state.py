"""In-memory state of the emulated Salesforce: orgs, users, apps, codes, tokens, approvals, records.

One ``threading.RLock`` (``World.lock``) guards everything. Token rules cite ``salesforce.md``:
section 6 (rotation, token families, reuse revokes the family), section 7 (five approvals per user
per app, session timeout, refresh token policies), section 4 (revoke), section 5 (login IP ranges and
login hours), section 12 (sandbox refresh). The plain records live in :mod:`records`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_sf360.core.ids import canonical_id
from airflow_provider_sf360.testing.config import (
    GENERATED_CERTIFICATE,
    AppConfig,
    EmulatorConfig,
    OrgConfig,
    UserConfig,
)
from airflow_provider_sf360.testing.records import (
    AccessToken,
    AuthCode,
    Family,
    Host,
    MintedToken,
    OAuthError,
    SandboxRefresh,
    random_id,
)

__all__ = [
    "CODE_LIFETIME_SECONDS", "LOGIN_RESTRICTION_REASONS", "MAX_APPROVALS", "AccessToken", "AuthCode", "Family",
    "Host", "MintedToken", "OAuthError", "SandboxRefresh", "World", "hmac_signature", "random_id",
]

#: salesforce.md section 7: "5 approvals per user per app. After a fifth approval the oldest is revoked".
MAX_APPROVALS = 5
#: Authorization codes are single-use and short-lived (salesforce.md section 2.1, *secondary*); the
#: Salesforce web server flow help page gives 15 minutes.
CODE_LIFETIME_SECONDS = 15 * 60
#: Why an admin keeps a user from signing in (salesforce.md section 5, "ip restricted or invalid login hours"):
#: the profile's Login IP Ranges (the caller is outside them) or its Login Hours (now is outside them).
LOGIN_RESTRICTION_REASONS = ("login_ip_ranges", "login_hours")


def hmac_signature(secret: str, id_url: str, issued_at: str) -> str:
    """salesforce.md section 3: Base64(HMAC-SHA256(client secret, id + issued_at)).

    :param secret: the consumer secret.
    :param id_url: the identity URL of the answer (``id``).
    :param issued_at: ``issued_at`` of the answer (epoch milliseconds as a string).
    """
    mac = hmac.new(secret.encode(), (id_url + issued_at).encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class World:
    """All mutable state. Methods that touch state must be called with ``lock`` held (or take it)."""

    def __init__(self, config: EmulatorConfig, generated_cert_pem: str) -> None:
        config.validate()
        self.config = config
        self.generated_cert_pem = generated_cert_pem
        self.lock = threading.RLock()
        #: Set by the emulator: base URL ("https://127.0.0.1:PORT") of a host key.
        self.url_for: Callable[[str], str] = lambda key: ""
        #: Set by the emulator: PEM of the RSA key that signs ``id_token`` values (published at /id/keys).
        self.id_token_key_pem = ""
        #: Every secret handed out or received (tokens, codes, verifiers); kept across resets for secret scans.
        self.secrets_seen: set[str] = set()
        self.reset()

    # ---------------------------------------------------------------- setup
    def reset(self) -> None:
        """Back to the configured world: tokens, codes, approvals, records, restrictions, counters cleared."""
        with self.lock:
            self.orgs: dict[str, OrgConfig] = {o.org_id: copy.deepcopy(o) for o in self.config.orgs}
            self.users: dict[str, UserConfig] = {u.user_id: copy.deepcopy(u) for u in self.config.users}
            self.apps: dict[str, AppConfig] = {a.consumer_key: copy.deepcopy(a) for a in self.config.apps}
            self.preapproved: set[tuple[str, str]] = set()
            for app in self.apps.values():
                for name in app.preapproved_usernames:
                    user = self.user_by_username(name)
                    if user:
                        self.preapproved.add((user.user_id, app.consumer_key))
            self.codes: dict[str, AuthCode] = {}
            self.families: dict[str, Family] = {}
            self.refresh_tokens: dict[str, str] = {}  # RT value -> family id (current and rotated-out)
            self.access_tokens: dict[str, AccessToken] = {}
            self.login_restrictions: dict[str, str] = {}  # user id -> reason (LOGIN_RESTRICTION_REASONS)
            self.records: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # org -> type -> id -> rec
            self.jobs: dict[str, dict[str, Any]] = {}
            self.query_cursors: dict[str, list[dict[str, Any]]] = {}
            self.api_requests: dict[str, int] = {}
            self.reuse_detections = 0
            self.family_revocations: dict[str, int] = {}  # cause -> families revoked (reuse, admin, eviction...)
            self.rotations = 0
            self.clock_offset = 0.0
            self.auto_approve = self.config.auto_approve
            self.auto_login_username = self.config.auto_login_username

    def now(self) -> float:
        """Emulator clock (wall clock plus :meth:`advance_clock` offset), seconds."""
        return time.time() + self.clock_offset

    # ---------------------------------------------------------------- lookups
    def user_by_username(self, username: str) -> UserConfig | None:
        """The user with this username (case-insensitive, Salesforce usernames are global), if any."""
        name = username.strip().lower()
        return next((u for u in self.users.values() if u.username.lower() == name), None)

    def org_by_domain(self, my_domain: str) -> OrgConfig | None:
        """The org whose My Domain name is ``my_domain``, if any."""
        return next((o for o in self.orgs.values() if o.my_domain == my_domain), None)

    def org_by_site_hostname(self, hostname: str) -> OrgConfig | None:
        """The org that has an Experience Cloud site on ``hostname``, if any."""
        return next((o for o in self.orgs.values()
                     if any(url.removeprefix("https://").split("/")[0] == hostname for url in o.experience_site_urls)),
                    None)

    def host_serves_org(self, host: Host, org_id: str) -> bool:
        """salesforce.md section 1: production orgs log in at login, sandboxes at test, or at own My Domain."""
        org = self.orgs.get(org_id)
        if org is None:
            return False
        if host.kind == "login":
            return not org.is_sandbox
        if host.kind == "test":
            return org.is_sandbox
        return org.my_domain == host.my_domain

    def default_user_for(self, host: Host) -> UserConfig | None:
        """``auto_login_username`` if it can log in at ``host``, else the first active user that can."""
        if self.auto_login_username:
            user = self.user_by_username(self.auto_login_username)
            if user and self.host_serves_org(host, user.org_id):
                return user
        return next(
            (u for u in self.users.values() if u.active and self.host_serves_org(host, u.org_id)), None
        )

    def app(self, key: str) -> AppConfig | None:
        """The connected app with this consumer key, if any."""
        return self.apps.get(key)

    def app_certificate(self, app: AppConfig) -> str:
        """The PEM certificate uploaded to the app for the JWT bearer flow ("" if none)."""
        return self.generated_cert_pem if app.jwt_certificate == GENERATED_CERTIFICATE else app.jwt_certificate

    def instance_url(self, org_id: str) -> str:
        """The org's My Domain URL, which is its ``instance_url``."""
        return self.url_for(f"mydomain:{self.orgs[org_id].my_domain}")

    # ---------------------------------------------------------------- codes
    def new_code(
        self, app_key: str, user_id: str, redirect_uri: str, challenge: str, scope: str, host: Host
    ) -> str:
        """Store and return a new authorization code (salesforce.md section 2.1)."""
        value = "aPrx" + secrets.token_urlsafe(48)
        self.secrets_seen.add(value)
        self.codes[value] = AuthCode(value, app_key, user_id, redirect_uri, challenge, scope, host.key, self.now())
        return value

    # ---------------------------------------------------------------- tokens
    def issue(
        self, app: AppConfig, user: UserConfig, host: Host, scope: str, *, family: Family | None = None,
        new_family: bool = False,
    ) -> MintedToken:
        """Mint an access token (and a refresh token for a new family or a rotation).

        The grant handlers shape the answer from it (:mod:`answer_shapes`). Values: salesforce.md sections
        2.1/2.2 (``issued_at`` in milliseconds as a string; ``signature`` per section 3; ``instance_url`` = My
        Domain URL; ``id`` on the host that issued the token).
        """
        issued = self.now()
        issued_at = str(int(issued * 1000))
        id_url = f"{self.url_for(host.key)}/id/{user.org_id}/{user.user_id}"
        access = f"{user.org_id[:15]}!AQ" + secrets.token_urlsafe(72).replace("-", ".").replace("_", "")
        self.secrets_seen.add(access)
        refresh_token = ""
        if new_family:
            family = self._new_family(app, user, host, scope)
            refresh_token = family.current_rt
        elif family is not None and app.rotation:
            # salesforce.md section 6: with rotation each refresh returns a new RT and invalidates the old.
            family.current_rt = self._new_rt(family.family_id)
            self.rotations += 1
            refresh_token = family.current_rt
        family_id = family.family_id if family else ""
        self.access_tokens[access] = AccessToken(
            access, app.consumer_key, user.user_id, user.org_id, scope, issued, id_url, family_id
        )
        return MintedToken(access, refresh_token, scope, self.instance_url(user.org_id), id_url, issued_at,
                           hmac_signature(app.consumer_secret, id_url, issued_at))

    def _new_rt(self, family_id: str) -> str:
        value = "5Aep861" + secrets.token_urlsafe(64).replace("-", ".").replace("_", "")
        self.secrets_seen.add(value)
        self.refresh_tokens[value] = family_id
        return value

    def _new_family(self, app: AppConfig, user: UserConfig, host: Host, scope: str) -> Family:
        now = self.now()
        fid = secrets.token_hex(8)
        fam = Family(fid, app.consumer_key, user.user_id, user.org_id, scope, host.key, now, now, "")
        fam.current_rt = self._new_rt(fid)
        self.families[fid] = fam
        # salesforce.md section 7: each refresh token counts as an approval; at most five per user per
        # app, so the sixth approval revokes the oldest.
        alive = sorted(
            (f for f in self.families.values()
             if f.active and f.user_id == user.user_id and f.app_key == app.consumer_key),
            key=lambda f: f.created,
        )
        for old in alive[: max(0, len(alive) - MAX_APPROVALS)]:
            self.revoke_family(old, cause="approval_limit")
        return fam

    def revoke_family(self, fam: Family, cause: str = "revoked") -> None:
        """Revoke a refresh token lineage and all its access tokens (salesforce.md sections 4 and 6)."""
        if fam.active:
            self.family_revocations[cause] = self.family_revocations.get(cause, 0) + 1
        fam.active = False
        for tok in self.access_tokens.values():
            if tok.family_id == fam.family_id:
                tok.active = False

    def holdings(self) -> dict[str, Any]:
        """What this Salesforce holds: live approvals and access tokens per user and app, rotations, revocations."""
        per: dict[tuple[str, str], dict[str, Any]] = {}

        def entry(user_id: str, app_key: str) -> dict[str, Any]:
            return per.setdefault((user_id, app_key), {"user_id": user_id, "consumer_key": app_key,
                                                       "live_approvals": 0, "live_access_tokens": 0})

        for fam in self.families.values():
            if fam.active:
                entry(fam.user_id, fam.app_key)["live_approvals"] += 1
        for tok in self.access_tokens.values():
            if self.access_token_alive(tok.value) is not None:
                entry(tok.user_id, tok.app_key)["live_access_tokens"] += 1
        return {
            "reuse_detections": self.reuse_detections,
            "rotations": self.rotations,
            "family_revocations": dict(self.family_revocations),
            "by_user_app": sorted(per.values(), key=lambda e: (e["user_id"], e["consumer_key"])),
        }

    def family_has_approval(self, user_id: str, app_key: str) -> bool:
        """JWT approval (section 2.3): admin pre-approval, or an earlier flow that issued a refresh token whose
        grant carried at least one standard scope besides ``refresh_token``/``offline_access``."""
        if (user_id, app_key) in self.preapproved:
            return True
        return any(
            f.active and f.user_id == user_id and f.app_key == app_key
            and set(f.scope.split()) - {"refresh_token", "offline_access"}
            for f in self.families.values()
        )

    def refresh_expired(self, app: AppConfig, fam: Family) -> bool:
        """Refresh token policy of the app (salesforce.md section 7; idle: help xcloud.connected_app_limit_idle_ttl)."""
        now = self.now()
        policy, ttl = app.refresh_token_policy, app.refresh_token_ttl
        if policy == "immediately_expire":
            return True
        if policy == "expire_after":
            return now - fam.created > ttl
        if policy == "expire_if_unused":
            return now - fam.last_used > ttl
        return False

    def access_token_alive(self, value: str) -> AccessToken | None:
        """The token if usable: active, within the app's session timeout (section 7), user active."""
        tok = self.access_tokens.get(value)
        if tok is None or not tok.active:
            return None
        app, user = self.apps.get(tok.app_key), self.users.get(tok.user_id)
        if app is None or user is None or not user.active or tok.org_id not in self.orgs:
            return None
        if self.now() >= tok.issued + app.session_timeout:
            return None
        return tok

    def session_alive(self, value: str) -> AccessToken | None:
        """:meth:`access_token_alive`, and not cut off by the org's "Enforce login IP ranges on every request"
        while the user is outside the profile's Login IP Ranges (help xcloud.connected_app_continuous_ip.htm;
        salesforce.md section 5 lists IP-locked sessions among the causes of ``INVALID_SESSION_ID``)."""
        tok = self.access_token_alive(value)
        if tok is None:
            return None
        if (self.login_restrictions.get(tok.user_id) == "login_ip_ranges"
                and self.orgs[tok.org_id].enforce_login_ip_ranges_on_every_request):
            return None
        return tok

    def access_token_exp(self, tok: AccessToken) -> int:
        """When the access token's session times out (epoch seconds; introspection's ``exp``)."""
        app = self.apps.get(tok.app_key)
        return int(tok.issued + (app.session_timeout if app else 0))

    # ---------------------------------------------------------------- admin actions
    def revoke_user_tokens(self, user_id: str) -> int:
        """Admin revokes every token of a user (section 5: admin logout/revocation). Returns the count."""
        uid = canonical_id(user_id)
        n = 0
        for fam in self.families.values():
            if fam.user_id == uid and fam.active:
                self.revoke_family(fam, cause="admin")
                n += 1
        for tok in self.access_tokens.values():
            if tok.user_id == uid and tok.active:
                tok.active = False
                n += 1
        return n

    def set_user_active(self, user_id: str, active: bool) -> None:
        """Admin (de)activates a user (section 5: a deactivated user's grants fail)."""
        self._known_user(user_id).active = active

    def restrict_login(self, user_id: str, reason: str = "login_ip_ranges") -> None:
        """Admin keeps a user from signing in: outside the profile's Login IP Ranges, or its Login Hours.

        The user's grants then answer ``invalid_grant`` / ``ip restricted or invalid login hours`` (salesforce.md
        section 5); nothing is revoked and the same refresh token works once lifted. See :mod:`login_policy`.

        :param user_id: the user (15 or 18 characters).
        :param reason: one of :data:`LOGIN_RESTRICTION_REASONS`.
        """
        if reason not in LOGIN_RESTRICTION_REASONS:
            raise ValueError(f"reason {reason!r} is not one of {LOGIN_RESTRICTION_REASONS}")
        self.login_restrictions[self._known_user(user_id).user_id] = reason

    def lift_login_restriction(self, user_id: str) -> None:
        """Admin lifts :meth:`restrict_login` (widens the IP ranges or login hours).

        :param user_id: the user (15 or 18 characters).
        """
        self.login_restrictions.pop(canonical_id(user_id), None)

    def _known_user(self, user_id: str) -> UserConfig:
        user = self.users.get(canonical_id(user_id))
        if user is None:
            raise KeyError(f"unknown user {user_id}")
        return user

    def refresh_sandbox(self, org_id: str) -> SandboxRefresh:
        """Refresh a sandbox (salesforce.md section 12).

        The Org ID changes; users copied from production keep their User IDs; sandbox-only users are gone (their
        username no longer signs in, their ID is unknown); every token, code, family and JWT approval of the old
        org dies; the old org's records are gone.

        :param org_id: the sandbox's current Org ID.
        """
        oid = canonical_id(org_id)
        org = self.orgs.get(oid)
        if org is None or not org.is_sandbox:
            raise ValueError(f"{org_id} is not a sandbox org of this emulator")
        result = SandboxRefresh(oid, random_id("00D"))
        del self.orgs[oid]
        org.org_id = result.new_org_id
        self.orgs[org.org_id] = org
        for uid in [u for u, user in self.users.items() if user.org_id == oid]:
            if self.users[uid].copied_from_production:
                self.users[uid].org_id = org.org_id
                result.kept_user_ids.append(uid)
            else:
                del self.users[uid]
                self.login_restrictions.pop(uid, None)
                result.removed_user_ids.append(uid)
        self._forget_org_grants(oid, {*result.kept_user_ids, *result.removed_user_ids})
        return result

    def _forget_org_grants(self, org_id: str, user_ids: set[str]) -> None:
        # The refreshed org's users start without approvals: JWT fails after a sandbox refresh until the user is
        # approved again (salesforce.md section 11, "Other reported problems", secondary).
        self.preapproved = {p for p in self.preapproved if p[0] not in user_ids}
        for fam in self.families.values():
            if fam.org_id == org_id:
                self.revoke_family(fam, cause="sandbox_refresh")
        for tok in self.access_tokens.values():
            if tok.org_id == org_id:
                tok.active = False
        self.codes = {k: c for k, c in self.codes.items() if c.user_id not in user_ids}
        self.records.pop(org_id, None)

    def set_app(self, consumer_key: str, **changes: Any) -> AppConfig:
        """Change connected-app settings at run time (an admin editing the app).

        :param consumer_key: the app.
        :param changes: :class:`AppConfig` fields and values (``require_secret=`` sets both per-flow settings).
        """
        app = self.apps.get(consumer_key)
        if app is None:
            raise KeyError(f"unknown consumer key {consumer_key}")
        for name, value in changes.items():
            if not hasattr(app, name) or name == "consumer_key":
                raise AttributeError(f"AppConfig has no settable field {name!r}")
            setattr(app, name, value)
        app.__post_init__()
        return app

    def approve(self, user_id: str, consumer_key: str) -> None:
        """Admin pre-approval of a user for an app (salesforce.md section 2.3)."""
        uid = canonical_id(user_id)
        if uid not in self.users or consumer_key not in self.apps:
            raise KeyError("unknown user or app")
        self.preapproved.add((uid, consumer_key))

