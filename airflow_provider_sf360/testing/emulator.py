"""``SalesforceEmulator``: starts the HTTPS hosts and exposes the Python control API."""

from __future__ import annotations

import collections
import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.core.ids import canonical_id
from airflow_provider_sf360.testing import bulk, certs, control, identity, rest, token_info
from airflow_provider_sf360.testing.authorize import authorize
from airflow_provider_sf360.testing.config import AppConfig, EmulatorConfig
from airflow_provider_sf360.testing.faults import ENDPOINTS as FAULT_ENDPOINTS
from airflow_provider_sf360.testing.faults import PROCESSED_FIRST, FaultBook, fault_response
from airflow_provider_sf360.testing.messages import Request, Response, json_response, rest_error
from airflow_provider_sf360.testing.records import Host, SandboxRefresh
from airflow_provider_sf360.testing.server import HostServer
from airflow_provider_sf360.testing.state import World
from airflow_provider_sf360.testing.token_endpoint import grant_name, token

if TYPE_CHECKING:
    import requests

#: Entries kept by ``request_log()`` (counts are never truncated).
LOG_LIMIT = 50_000

_OAUTH_PATHS = {
    "/services/oauth2/authorize": "authorize",
    "/services/oauth2/token": "token",
    "/services/oauth2/revoke": "revoke",
    "/services/oauth2/introspect": "introspect",
    "/services/oauth2/userinfo": "userinfo",
    "/id/keys": "jwks",
    "/.well-known/openid-configuration": "discovery",
}


def classify(path: str) -> str:
    """Endpoint name of a path (the names used by faults and request counts)."""
    clean = path.rstrip("/") or "/"
    if clean in _OAUTH_PATHS:
        return _OAUTH_PATHS[clean]
    if path.startswith(control.CONTROL_PREFIX):
        return "control"
    if path.startswith("/id/"):
        return "identity"
    if path.startswith("/services/data"):
        return "bulk" if path.split("/")[4:5] == ["jobs"] else "rest"
    return "unknown"


class SalesforceEmulator:
    """An offline Salesforce: HTTPS login, test and My Domain hosts on 127.0.0.1 (see docs/emulator.md).

    ``port_base``: 0 = any free ports; else login = base, test = base + 1, My Domain hosts base + 2 ...
    in config order.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, port_base: int = 0) -> None:
        self.config = config or EmulatorConfig.default()
        self.port_base = port_base
        self.faults = FaultBook()
        self._servers: dict[str, HostServer] = {}
        self._tmp: Path | None = None
        self._certs: certs.CertBundle | None = None
        self._world: World | None = None
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_LIMIT)
        self._counts: collections.Counter[str] = collections.Counter()
        self._log_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    #: Every emulator started in this process, so that a test session can scan for all their secrets.
    started: ClassVar[list[SalesforceEmulator]] = []

    def start(self) -> SalesforceEmulator:
        """Generate certificates and start every host. Returns ``self``."""
        if self._servers:
            return self
        SalesforceEmulator.started.append(self)
        self._tmp = Path(tempfile.mkdtemp(prefix="sf360-emulator-"))
        bundle = certs.generate(self._tmp)
        self._certs = bundle
        world = World(self.config, bundle.jwt_cert_pem)
        world.id_token_key_pem = bundle.server_key_pem
        world.url_for = self._url_for
        self._world = world
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(bundle.server_cert_file), str(bundle.server_key_file))
        hosts = [Host("login"), Host("test")] + [Host("mydomain", o.my_domain) for o in self.config.orgs]
        try:
            for i, host in enumerate(hosts):
                port = self.port_base + i if self.port_base else 0
                self._servers[host.key] = HostServer(self.dispatch, world.now, host, port, ctx)
        except OSError:
            self._close_servers()
            raise
        for server in self._servers.values():
            server.thread.start()
        return self

    def stop(self) -> None:
        """Stop every host, join their threads and delete the temporary certificates."""
        self._close_servers()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _close_servers(self) -> None:
        for server in self._servers.values():
            if server.thread.is_alive():
                server.close()
            else:
                server.server_close()
        self._servers.clear()

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def world(self) -> World:
        if self._world is None:
            raise RuntimeError("the emulator is not started")
        return self._world

    def _bundle(self) -> certs.CertBundle:
        if self._certs is None:
            raise RuntimeError("the emulator is not started")
        return self._certs

    def _url_for(self, key: str) -> str:
        return self._servers[key].base_url

    @property
    def login_url(self) -> str:
        """Production login host (like https://login.salesforce.com)."""
        return self._url_for("login")

    @property
    def test_url(self) -> str:
        """Sandbox login host (like https://test.salesforce.com)."""
        return self._url_for("test")

    @property
    def control_url(self) -> str:
        return self.login_url + control.CONTROL_PREFIX.rstrip("/")

    def my_domain_url(self, org_id: str) -> str:
        """My Domain URL of an org, which is also its ``instance_url``."""
        with self.world.lock:
            org = self.world.orgs.get(canonical_id(org_id))
            if org is None:
                raise KeyError(f"unknown org {org_id}")
            return self._url_for(f"mydomain:{org.my_domain}")

    def my_domain_url_by_name(self, my_domain: str) -> str:
        return self._url_for(f"mydomain:{my_domain}")

    @property
    def ca_bundle(self) -> str:
        """Path of the CA PEM; point ``REQUESTS_CA_BUNDLE`` at it."""
        return str(self._bundle().ca_file)

    @property
    def jwt_private_key_pem(self) -> str:
        """Private key whose certificate is uploaded to apps with ``jwt_certificate="generated"``."""
        return self._bundle().jwt_key_pem

    @property
    def jwt_private_key_file(self) -> str:
        return str(self._bundle().jwt_key_file)

    @property
    def jwt_certificate_pem(self) -> str:
        return self._bundle().jwt_cert_pem

    def info(self) -> dict[str, Any]:
        """Addresses and files (no secrets except the path of the throwaway JWT key file)."""
        with self.world.lock:
            orgs = {
                o.org_id: {"my_domain": o.my_domain, "is_sandbox": o.is_sandbox,
                           "my_domain_url": self._url_for(f"mydomain:{o.my_domain}"),
                           "users": {u.username: u.user_id for u in self.world.users.values()
                                     if u.org_id == o.org_id}}
                for o in self.world.orgs.values()
            }
        return {"login_url": self.login_url, "test_url": self.test_url, "ca_bundle": self.ca_bundle,
                "control_url": self.control_url, "jwt_private_key_file": self.jwt_private_key_file, "orgs": orgs}

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, req: Request) -> Response:
        """Route one request, applying faults and recording it in the request log."""
        endpoint = classify(req.path)
        if endpoint == "control":
            if req.host.kind != "login":
                return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
            return control.handle(self, req)
        grant = grant_name(req) if endpoint == "token" else ""
        resp: Response | None = None
        fault = self.faults.take(endpoint) if endpoint in FAULT_ENDPOINTS else None
        if fault is not None and fault.kind in PROCESSED_FIRST:
            processed = self._route_safely(endpoint, req)
            if fault.kind == "delay_after":
                time.sleep(fault.seconds)  # processed already; the answer comes late
            resp = processed if fault.kind == "delay_after" else fault_response(fault, endpoint)
            assert resp is not None
            self._record(req, endpoint, grant, 0 if resp.drop else resp.status)
            return resp
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.seconds)  # then answer normally
            resp = fault_response(fault, endpoint)
        if resp is None:
            resp = self._route_safely(endpoint, req)
        self._record(req, endpoint, grant, 0 if resp.drop else resp.status)
        return resp

    def _route_safely(self, endpoint: str, req: Request) -> Response:
        try:
            return self._route(endpoint, req)
        except Exception as exc:  # an emulator bug must not kill the connection silently
            return json_response(500, [{"message": f"emulator error: {type(exc).__name__}",
                                        "errorCode": "UNKNOWN_EXCEPTION"}])

    def _route(self, endpoint: str, req: Request) -> Response:
        world = self.world
        handlers = {
            "authorize": authorize, "token": token, "revoke": token_info.revoke,
            "introspect": token_info.introspect, "userinfo": identity.userinfo, "identity": identity.identity,
            "jwks": identity.jwks, "discovery": identity.discovery, "rest": rest.handle, "bulk": bulk.handle,
        }
        handler = handlers.get(endpoint)
        if handler is None:
            return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        return handler(world, req)

    def _record(self, req: Request, endpoint: str, grant: str, status: int) -> None:
        # Never secrets: no query string, no headers, no body - only the path.
        entry = {"time": time.time(), "method": req.method, "host": req.host.key, "path": req.path,
                 "endpoint": endpoint, "grant_type": grant, "status": status}
        with self._log_lock:
            self._log.append(entry)
            self._counts[endpoint] += 1
            if grant:
                self._counts[f"token:{grant}"] += 1

    # ------------------------------------------------------------------ control API
    def inject_fault(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        """Make the next ``count`` requests to ``endpoint`` fail with ``kind`` (see faults.py)."""
        self.faults.add(endpoint, kind, count, seconds)

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_user_tokens(self, user_id: str) -> int:
        """Admin action: revoke every token of a user. Returns how many were live."""
        with self.world.lock:
            return self.world.revoke_user_tokens(user_id)

    def deactivate_user(self, user_id: str) -> None:
        with self.world.lock:
            self.world.set_user_active(user_id, False)

    def activate_user(self, user_id: str) -> None:
        with self.world.lock:
            self.world.set_user_active(user_id, True)

    def restrict_login(self, user_id: str, reason: str = "login_ip_ranges") -> None:
        """Admin keeps a user out: the token endpoint answers ``invalid_grant`` / ``ip restricted or invalid login
        hours`` for the user's grants; nothing is revoked (salesforce.md section 5; see ``login_policy``).

        :param user_id: the user.
        :param reason: ``login_ip_ranges`` (the profile's Login IP Ranges) or ``login_hours``.
        """
        with self.world.lock:
            self.world.restrict_login(user_id, reason)

    def lift_login_restriction(self, user_id: str) -> None:
        """Undo :meth:`restrict_login`: the same refresh token works again.

        :param user_id: the user.
        """
        with self.world.lock:
            self.world.lift_login_restriction(user_id)

    def refresh_sandbox(self, org_id: str) -> SandboxRefresh:
        """Refresh a sandbox: new Org ID, copied users keep their IDs, sandbox-only users are gone, every old token
        dies (salesforce.md section 12).

        :param org_id: the sandbox's current Org ID.
        """
        with self.world.lock:
            return self.world.refresh_sandbox(org_id)

    def request_counts(self) -> dict[str, int]:
        """Requests per endpoint, plus ``token:<grant>`` (grants: authorization_code, refresh_token,
        jwt_bearer, client_credentials, other, none)."""
        with self._log_lock:
            return dict(self._counts)

    def request_log(self) -> list[dict[str, Any]]:
        """Recent requests: time, method, host, path (no query), endpoint, grant_type, status (0 = dropped)."""
        with self._log_lock:
            return [dict(e) for e in self._log]

    def secrets_seen(self) -> frozenset[str]:
        """Every secret this emulator issued or received since it started (tokens, codes, PKCE verifiers,
        consumer secrets, the JWT key): what a secret scan of logs, XComs and pages must never find."""
        key_body = "".join(line for line in self.jwt_private_key_pem.splitlines() if "-----" not in line)
        with self.world.lock:
            app_secrets = {app.consumer_secret for app in self.world.apps.values()}
            return frozenset({*self.world.secrets_seen, *app_secrets, key_body[:64], key_body[-64:]})

    def holdings(self) -> dict[str, Any]:
        """What Salesforce holds now: live approvals and access tokens per user and app, rotations, family
        revocations by cause (reuse, admin, approval_limit, revoke_endpoint, sandbox_refresh)."""
        with self.world.lock:
            return self.world.holdings()

    @property
    def reuse_detections(self) -> int:
        """How many times a rotated-out refresh token was presented (salesforce.md section 6)."""
        with self.world.lock:
            return self.world.reuse_detections

    def reset(self) -> None:
        """Back to the configured world: tokens, records, faults, logs and counters cleared."""
        self.faults.clear()
        with self.world.lock:
            self.world.reset()
        with self._log_lock:
            self._log.clear()
            self._counts.clear()

    def set_app(self, consumer_key: str, **changes: Any) -> AppConfig:
        """Change connected-app settings at run time, e.g. ``rotation=True, session_timeout=30``."""
        with self.world.lock:
            return self.world.set_app(consumer_key, **changes)

    def add_callback_url(self, url: str, consumer_key: str = "") -> None:
        """Allow one more callback URL on an app (default: every app)."""
        with self.world.lock:
            for app in self.world.apps.values():
                if (not consumer_key or app.consumer_key == consumer_key) and url not in app.callback_urls:
                    app.callback_urls.append(url)

    def approve(self, user_id: str, consumer_key: str) -> None:
        """Pre-approve a user for an app (JWT bearer flow, salesforce.md section 2.3)."""
        with self.world.lock:
            self.world.approve(user_id, consumer_key)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator clock forward (expire access tokens, codes, refresh tokens without sleeping)."""
        with self.world.lock:
            self.world.clock_offset += seconds

    def set_auto_approve(self, enabled: bool, username: str = "") -> None:
        """The test switch: authorize GET redirects at once with a code for ``username``."""
        with self.world.lock:
            self.world.auto_approve = enabled
            self.world.auto_login_username = username

    def authorize_headless(self, url: str, allow: bool = True, username: str | None = None) -> str:
        """Play the browser on an authorize URL; return the redirect URL (code/state or error)."""

        from airflow_provider_sf360.testing import browser

        if not username:
            params = dict(parse_qsl(urlsplit(url).query))
            username = params.get("login_hint", "")
        if not username:
            port = urlsplit(url).port
            server = next((s for s in self._servers.values() if s.port == port), None)
            with self.world.lock:
                user = self.world.default_user_for(server.host) if server else None
            username = user.username if user else ""
        return browser.authorize(url, self.ca_bundle, username, allow)

    def sf360_connection(
        self, flow: str = "authorization_code", *, secret: bool = True, **extra: Any
    ) -> dict[str, Any]:
        """An ``sf360`` connection (``AIRFLOW_CONN_*`` JSON shape) for the default world's integration user.

        Every flow is ready: JWT gets the generated key, client credentials the My Domain URL, the web server
        flow the first default callback URL. ``extra`` overrides or adds connection fields.
        """
        from airflow_provider_sf360.testing import config as world

        fields: dict[str, Any] = {"org_id": world.DEFAULT_ORG_ID, "user_id": world.DEFAULT_USER_ID,
                                  "auth_flow": flow, "login_url": self.login_url}
        if flow == "jwt_bearer":
            fields.update(username=world.DEFAULT_USERNAME, private_key=self.jwt_private_key_pem)
        if flow == "client_credentials":
            fields["login_url"] = self.my_domain_url(world.DEFAULT_ORG_ID)
        if flow == "authorization_code":
            fields["callback_url"] = world.DEFAULT_CALLBACK_URLS[0]
        return {"conn_type": CONN_TYPE, "login": world.DEFAULT_CONSUMER_KEY,
                "password": world.DEFAULT_CONSUMER_SECRET if secret else None, "extra": {**fields, **extra}}

    def requests_session(self) -> requests.Session:
        """A ``requests.Session`` that routes real Salesforce host names to this emulator.

        ``login.salesforce.com`` → ``login_url``, ``test.salesforce.com`` → ``test_url``,
        ``<MyDomain>.my.salesforce.com`` and ``<name>.sandbox.my.salesforce.com`` → that My Domain
        host, an org's Experience Cloud site host (``experience_site_urls``) → that org's My Domain host. Lets
        simple-salesforce's JWT/client-credentials logins (which build ``https://{domain}.salesforce.com`` URLs)
        run unchanged; see docs/emulator.md.
        """
        from airflow_provider_sf360.testing.routing import routing_session

        return routing_session(self.base_url_for_hostname, self.ca_bundle)

    def base_url_for_hostname(self, hostname: str) -> str | None:
        """The emulator host standing for a real Salesforce host name, or None.

        :param hostname: e.g. ``login.salesforce.com``, ``acme.my.salesforce.com``,
            ``acme--uat.sandbox.my.salesforce.com`` or an Experience Cloud site's host name.
        """
        if hostname == "login.salesforce.com":
            return self.login_url
        if hostname == "test.salesforce.com":
            return self.test_url
        with self.world.lock:
            org = self.world.org_by_site_hostname(hostname)
            for suffix in (".sandbox.my.salesforce.com", ".my.salesforce.com"):
                if org is None and hostname.endswith(suffix):
                    # Enhanced sandbox domains: <MyDomain>--<Sandbox>.sandbox.my.salesforce.com
                    org = self.world.org_by_domain(hostname[: -len(suffix)])
        return self.my_domain_url_by_name(org.my_domain) if org is not None else None
