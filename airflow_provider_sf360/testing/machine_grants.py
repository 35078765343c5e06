"""The server-to-server grants: JWT bearer (salesforce.md section 2.3) and client credentials (section 2.4).

JWT audience (section 2.3): ``aud`` must be ``https://login.salesforce.com`` for a production org's user and
``https://test.salesforce.com`` for a sandbox user, **whichever host the assertion is posted to** (login or test
host, My Domain, GovCloud): a JWT posted to a sandbox My Domain with the My Domain URL as ``aud`` got
``invalid_grant`` / ``audience is invalid`` (omniphx/forrest#302); GovCloud orgs post to My Domain but sign the
generic audience (simple-salesforce PR #711); restforce PR #886 added an ``aud`` option for the same reason.
The only other audience is one of the org's Experience Cloud site URLs (help remoteaccess_oauth_jwt_flow),
accepted when the assertion is posted to that org's My Domain host: the emulator serves no site host, and the My
Domain host is the org's own host that stands in for it (an emulator simplification, docs/emulator.md). The
emulator's own login/test URLs are **not** audiences: they stand for Salesforce's hosts, not for its ``aud``.
"""

from __future__ import annotations

import jwt
from cryptography import x509

from airflow_provider_sf360.testing.answer_shapes import client_credentials_answer, jwt_bearer_answer
from airflow_provider_sf360.testing.client_auth import (
    UNKNOWN_CLIENT,
    authenticate_client,
    client_of,
    scopes_without_refresh,
)
from airflow_provider_sf360.testing.config import AppConfig, OrgConfig, UserConfig
from airflow_provider_sf360.testing.login_policy import login_refusal
from airflow_provider_sf360.testing.messages import Request
from airflow_provider_sf360.testing.records import Host, OAuthError
from airflow_provider_sf360.testing.state import World

PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
#: A malformed, unsigned or wrongly signed assertion: Salesforce answers invalid_grant "invalid assertion" (not in
#: salesforce.md section 5, which lists only the approval and audience descriptions).
BAD_ASSERTION = ("invalid_grant", "invalid assertion")
AUTHENTICATION_FAILURE = ("invalid_grant", "authentication failure")


def accepted_audiences(org: OrgConfig, host: Host) -> set[str]:
    """The JWT ``aud`` values Salesforce accepts for a user of ``org`` posting to ``host`` (see the module doc).

    :param org: the user's org.
    :param host: the host the assertion is posted to.
    """
    audiences = {SANDBOX_AUDIENCE if org.is_sandbox else PRODUCTION_AUDIENCE}
    if host.kind == "mydomain" and host.my_domain == org.my_domain:
        audiences.update(org.experience_site_urls)
    return audiences


def grant_jwt_bearer(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """JWT bearer grant: no client secret, no refresh token (salesforce.md section 2.3).

    :param world: the emulated Salesforce.
    :param req: the request.
    :param form: its form fields.
    """
    claims = _verified_claims(world, form.get("assertion", ""))
    app = world.apps[str(claims["iss"])]
    user = world.user_by_username(str(claims.get("sub", "")))
    if user is None or not world.host_serves_org(req.host, user.org_id):
        # A sandbox user at the production host (or vice versa) is unknown there (section 1).
        raise OAuthError(*AUTHENTICATION_FAILURE)
    aud = claims.get("aud")
    if not set(aud if isinstance(aud, list) else [aud]) & accepted_audiences(world.orgs[user.org_id], req.host):
        raise OAuthError("invalid_grant", "audience is invalid")
    if not user.active:
        raise OAuthError(*AUTHENTICATION_FAILURE)
    refusal = login_refusal(world, app, user, "jwt_bearer")
    if refusal is not None:
        raise refusal
    if not world.family_has_approval(user.user_id, app.consumer_key):
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return jwt_bearer_answer(world.issue(app, user, req.host, scopes_without_refresh(app)))


def _verified_claims(world: World, assertion: str) -> dict[str, object]:
    """The assertion's claims once its RS256 signature (by the app's certificate) and ``exp`` hold."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError(*BAD_ASSERTION) from None
    if header.get("alg") != "RS256":
        raise OAuthError(*BAD_ASSERTION)
    app = world.app(str(claims.get("iss", "")))
    if app is None:
        raise OAuthError(*UNKNOWN_CLIENT)
    _verify_signature(world, app, assertion)
    try:
        exp = int(claims["exp"])  # simple-salesforce sends exp as a string of epoch seconds
    except (KeyError, TypeError, ValueError):
        raise OAuthError(*BAD_ASSERTION) from None
    if exp <= world.now():
        # Expired assertion (clock skew, section 2.3). section 5 lists "token validity expired".
        raise OAuthError("invalid_grant", "token validity expired")
    return dict(claims)


def _verify_signature(world: World, app: AppConfig, assertion: str) -> None:
    cert_pem = world.app_certificate(app)
    if not cert_pem:
        raise OAuthError(*BAD_ASSERTION)
    public_key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    try:
        jwt.decode(
            assertion, public_key, algorithms=["RS256"],  # type: ignore[arg-type]
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise OAuthError(*BAD_ASSERTION) from None


def grant_client_credentials(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Client credentials grant, My Domain host only; acts as the app's run-as user (salesforce.md section 2.4).

    :param world: the emulated Salesforce.
    :param req: the request.
    :param form: its form fields.
    """
    client_id, secret = client_of(req, form)
    app = authenticate_client(world, client_id, secret, require_secret=True)
    if req.host.kind != "mydomain":
        # section 1/2.4: only on the My Domain host. salesforce.md documents no error pair for this;
        # "request not supported on this domain" is what Salesforce sends at login.salesforce.com.
        raise OAuthError("invalid_grant", "request not supported on this domain")
    user = _run_as_user(world, req.host, app)
    refusal = login_refusal(world, app, user, "client_credentials")
    if refusal is not None:
        raise refusal
    return client_credentials_answer(world.issue(app, user, req.host, scopes_without_refresh(app)))


def _run_as_user(world: World, host: Host, app: AppConfig) -> UserConfig:
    user = world.user_by_username(app.run_as_username) if app.run_as_username else None
    if user is None or not world.host_serves_org(host, user.org_id):
        # Not in salesforce.md; Salesforce's string when the app has no run-as user for this org.
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    if not user.active:
        raise OAuthError(*AUTHENTICATION_FAILURE)
    return user
