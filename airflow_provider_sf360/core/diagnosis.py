"""``sf360 doctor``'s checks, as pure functions of what was observed: each says ok, warn, fail or skip, what it
saw, and the Setup page that fixes it. The service (``service/diagnose.py``) gathers the observations (a GET of
the login host, the stored token, a grant where it costs nothing) and calls these. Pure module, no Airflow
import.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from airflow_provider_sf360.core import setup_pages
from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials
from airflow_provider_sf360.core.grants import JWT_LIFETIME_SECONDS
from airflow_provider_sf360.core.hosts import (
    MY_DOMAIN_SUFFIXES,
    SALESFORCE_LOGIN_HOSTS,
    host_of,
    is_production_my_domain,
    is_sandbox_my_domain,
)
from airflow_provider_sf360.core.token_state import TokenState, TokenStatus

CLOCK_SKEW_WARN_SECONDS = 30.0
NEEDED_SCOPES = {"api"}
REFRESH_SCOPES = {"refresh_token", "offline_access"}


class Verdict(str, Enum):
    """A check's outcome."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One diagnosis line: what was checked, the verdict, what was seen, and where to fix it (never a secret)."""

    name: str
    verdict: Verdict
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "verdict": self.verdict.value, "message": self.message, "fix": self.fix}


def login_host_kind(creds: SF360Credentials) -> Check:
    """The Login URL is of the kind the flow and the sandbox switch need."""
    host = host_of(creds.login_url)
    my_domain = host.endswith(MY_DOMAIN_SUFFIXES)
    if creds.auth_flow is AuthFlow.CLIENT_CREDENTIALS and not my_domain:
        verdict = Verdict.FAIL if host in SALESFORCE_LOGIN_HOSTS else Verdict.WARN
        return Check("login URL kind", verdict,
                     f"{host} is not a My Domain host; the client credentials flow only works on "
                     "https://<MyDomain>.my.salesforce.com (an allow-listed test host may emulate one).",
                     "Setup > My Domain")
    if creds.is_sandbox and is_production_my_domain(host):
        return Check("login URL kind", Verdict.FAIL, f"{host} is a production host but the sandbox switch is on.")
    if not creds.is_sandbox and is_sandbox_my_domain(host):
        return Check("login URL kind", Verdict.FAIL, f"{host} is a sandbox host but the sandbox switch is off.")
    kind = "My Domain" if my_domain else ("generic login host" if host.endswith("salesforce.com") else "allowed host")
    return Check("login URL kind", Verdict.OK, f"{host} ({kind}) suits the {creds.auth_flow.value} flow"
                 f"{' in a sandbox' if creds.is_sandbox else ''}.")


def reachability(creds: SF360Credentials, status: int | None, problem: str | None) -> Check:
    """The login host answered (any HTTP answer proves it is there)."""
    if status is None:
        return Check("login host reachable", Verdict.FAIL,
                     f"{creds.login_url} did not answer: {problem or 'no answer'}. Check the Login URL, DNS, the "
                     "proxy and the workers' egress (firewall).")
    return Check("login host reachable", Verdict.OK, f"{creds.login_url} answered (HTTP {status}).")


def clock_skew(date_header: str | None, local_now: float, flow: AuthFlow) -> Check:
    """Our clock against Salesforce's ``Date`` header (a JWT assertion lives only a few minutes)."""
    if not date_header:
        return Check("clock", Verdict.SKIP, "Salesforce's answer carried no Date header.")
    try:
        remote = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return Check("clock", Verdict.SKIP, "Salesforce's Date header could not be read.")
    skew = local_now - remote
    text = f"this machine's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Salesforce's"
    if flow is AuthFlow.JWT_BEARER and abs(skew) >= JWT_LIFETIME_SECONDS:
        return Check("clock", Verdict.FAIL, f"{text}: JWT assertions (valid {JWT_LIFETIME_SECONDS} s) arrive expired.",
                     "keep the workers' clocks in sync (NTP)")
    if abs(skew) > CLOCK_SKEW_WARN_SECONDS:
        return Check("clock", Verdict.WARN, f"{text}.", "keep the workers' clocks in sync (NTP)")
    return Check("clock", Verdict.OK, f"{text} (within {CLOCK_SKEW_WARN_SECONDS:.0f} s).")


def callback(creds: SF360Credentials, page_callback: str, cli_callback: str, answer: str | None) -> Check:
    """The Callback URL the setup will use, and whether the app's authorize endpoint accepted it."""
    if creds.auth_flow is not AuthFlow.AUTHORIZATION_CODE:
        return Check("callback URL", Verdict.SKIP, f"the {creds.auth_flow.value} flow has no browser sign-in.")
    used = f"the page uses {page_callback}; `sf360 setup` uses {cli_callback}"
    if answer == "redirect_uri_mismatch":
        return Check("callback URL", Verdict.FAIL, f"Salesforce refused the callback URL ({used}): it must be "
                     "one of the app's Callback URLs, exactly.", setup_pages.CALLBACK_URL)
    if answer == "invalid_client_id":
        return Check("callback URL", Verdict.FAIL, "Salesforce does not know the Consumer Key.",
                     setup_pages.CONSUMER_KEY_AND_SECRET)
    if answer == "ok":
        return Check("callback URL", Verdict.OK, f"Salesforce accepted the callback URL ({used}).")
    return Check("callback URL", Verdict.SKIP, f"not checked ({used}).")


def certificate(private_key_pem: str | None, certificate_pem: str | None) -> Check:
    """The Private Key matches a certificate file (the one uploaded to the app), compared locally."""
    if not certificate_pem:
        return Check("certificate", Verdict.SKIP, "no certificate file given (--cert); the JWT grant below checks "
                     "the uploaded certificate instead.")
    try:
        cert_key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
        own_key = load_pem_private_key((private_key_pem or "").encode(), password=None).public_key()
    except (ValueError, TypeError):
        return Check("certificate", Verdict.FAIL, "the certificate or the Private Key could not be read.")
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert_key.public_bytes(*fmt) == own_key.public_bytes(*fmt):
        return Check("certificate", Verdict.OK, "the certificate file belongs to the connection's Private Key.")
    return Check("certificate", Verdict.FAIL, "the certificate file does not belong to the connection's Private Key.",
                 setup_pages.JWT_CERTIFICATE)


def scopes(state: TokenState | None, flow: AuthFlow) -> Check:
    """The scopes Salesforce granted cover what the provider needs."""
    if state is None or not state.scope:
        return Check("scopes", Verdict.SKIP, "no token stored (or Salesforce named no scopes).")
    granted = set(state.scope.split())
    needed = set(NEEDED_SCOPES)
    missing = sorted(needed - granted - {"full"})
    if flow in (AuthFlow.AUTHORIZATION_CODE, AuthFlow.REFRESH_TOKEN) and not granted & (REFRESH_SCOPES | {"full"}):
        missing.append("refresh_token or offline_access")
    if missing:
        return Check("scopes", Verdict.FAIL, f"granted {state.scope!r}; missing {', '.join(missing)}.",
                     setup_pages.SCOPES)
    return Check("scopes", Verdict.OK, f"granted {state.scope!r}.")


def token_policy(state: TokenState | None, keep_alive_after: float | None, now: float) -> Check:
    """What was seen of the refresh token policy: rotation, idle use, the last renewal."""
    if state is None or not state.refresh_token:
        return Check("refresh token policy", Verdict.SKIP, "no refresh token stored.")
    seen = ["rotation on (a refresh returned a new refresh token)" if state.rotated_at else "no rotation seen"]
    idle_days = (now - state.refresh_used_at) / 86_400 if state.refresh_used_at else None
    if idle_days is not None:
        seen.append(f"refresh token last used {idle_days:.1f} days ago")
    verdict = Verdict.OK
    if keep_alive_after is None:
        seen.append("keep-alive off ([sf360] keep_alive_days = 0): an 'expire if unused' policy may end it")
        verdict = Verdict.WARN
    if state.status is not TokenStatus.ACTIVE:
        seen.append(f"stored status {state.status.value}")
        verdict = Verdict.FAIL
    return Check("refresh token policy", verdict, "; ".join(seen) + ".", setup_pages.REFRESH_TOKEN_POLICY)
