"""The grants of the web server flow: ``authorization_code`` (with PKCE) and ``refresh_token``.

salesforce.md section 2.1 (code, PKCE), 2.2 (refresh), 5 (errors), 6 (rotation, reuse revokes the family),
7 (refresh token policies). Answer shapes: :mod:`answer_shapes`.
"""

from __future__ import annotations

import base64
import hashlib

import jwt

from airflow_provider_sf360.testing.answer_shapes import refresh_answer, web_server_answer
from airflow_provider_sf360.testing.client_auth import (
    authenticate_client,
    client_of,
    has_refresh_scope,
    s256,
)
from airflow_provider_sf360.testing.config import AppConfig, UserConfig
from airflow_provider_sf360.testing.login_policy import login_refusal, refresh_ip_refusal
from airflow_provider_sf360.testing.messages import Request
from airflow_provider_sf360.testing.records import AuthCode, Family, Host, OAuthError
from airflow_provider_sf360.testing.state import CODE_LIFETIME_SECONDS, World

#: salesforce.md section 5: a revoked, expired, evicted or reused refresh token.
EXPIRED_TOKEN = ("invalid_grant", "expired access/refresh token")
#: A used, expired, unknown or foreign code. The description is the one Salesforce sends for this case;
#: salesforce.md section 5 lists only the invalid_grant code.
EXPIRED_CODE = ("invalid_grant", "expired authorization code")
DEACTIVATED = ("invalid_grant", "authentication failure")  # section 5: user deactivated


def _require_secret(world: World, client_id: str, flow_setting: str) -> bool:
    app = world.app(client_id)
    return bool(getattr(app, flow_setting)) if app is not None else True


def grant_authorization_code(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Authorization code grant with PKCE (salesforce.md section 2.1).

    :param world: the emulated Salesforce.
    :param req: the request.
    :param form: its form fields.
    """
    client_id, secret = client_of(req, form)
    app = authenticate_client(world, client_id, secret,
                              _require_secret(world, client_id, "require_secret_for_web_server_flow"))
    code, user = _redeemable_code(world, req, app, form.get("code", ""))
    if form.get("redirect_uri", "") != code.redirect_uri:
        # section 2.1: redirect_uri must equal the one of the authorize request. Pair: Salesforce's OAuth error list
        # (help remoteaccess_oauth_user_agent_flow) and its page text "redirect_uri must match configuration".
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
    _check_verifier(world, code, form.get("code_verifier", ""))
    if not user.active:
        raise OAuthError(*DEACTIVATED)
    _raise(login_refusal(world, app, user, "authorization_code"))
    code.used = True
    minted = world.issue(app, user, req.host, code.scope, new_family=has_refresh_scope(code.scope))
    id_token = _id_token(world, app, user, req.host, minted.access_token) if _has_openid(code.scope) else ""
    return web_server_answer(minted, id_token)


def _redeemable_code(world: World, req: Request, app: AppConfig, value: str) -> tuple[AuthCode, UserConfig]:
    if not value:
        raise OAuthError("invalid_request", "missing required code parameter")
    code = world.codes.get(value)
    user = world.users.get(code.user_id) if code else None
    if (
        code is None or user is None or code.used or code.app_key != app.consumer_key
        or world.now() - code.created > CODE_LIFETIME_SECONDS
        or not world.host_serves_org(req.host, user.org_id)
    ):
        # Codes are single-use and short-lived (section 2.1; the web server flow help page: 15 minutes).
        raise OAuthError(*EXPIRED_CODE)
    return code, user


def _check_verifier(world: World, code: AuthCode, verifier: str) -> None:
    """PKCE (salesforce.md section 2.1)."""
    if verifier:
        world.secrets_seen.add(verifier)
    if code.challenge and not verifier:
        # section 2.1: challenge given at authorize but no verifier at token time → invalid_grant.
        raise OAuthError("invalid_grant", "invalid code verifier")
    if verifier and not code.challenge:
        # A verifier for a code that had no challenge: Salesforce refuses it with "unexpected code verifier"
        # (forcedotcom/sfdx-core#166). The error code is not reported there; invalid_request follows
        # section 2.1's rule for a verifier that does not match.
        raise OAuthError("invalid_request", "unexpected code verifier")
    if verifier and (not 43 <= len(verifier) <= 128 or s256(verifier) != code.challenge):
        # section 2.1: verifier sent but not matching (or the 43-128 characters rule broken) → invalid_request.
        # Field reports differ (n8n-io/n8n#32421 suggests invalid_grant); see docs/emulator.md.
        raise OAuthError("invalid_request", "invalid code verifier")


def grant_refresh_token(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Refresh token grant, rotation and reuse detection (salesforce.md sections 2.2 and 6).

    :param world: the emulated Salesforce.
    :param req: the request.
    :param form: its form fields.
    """
    client_id, secret = client_of(req, form)
    app = authenticate_client(world, client_id, secret,
                              _require_secret(world, client_id, "require_secret_for_refresh_token_flow"))
    if "scope" in form:
        # section 2.2: "Do not send scope on refresh: Salesforce is reported to reject it" (google/adk-python#5328).
        # The description is an emulator choice (not documented).
        raise OAuthError("invalid_request", "scope parameter not supported on refresh")
    fam, user = _redeemable_family(world, req, app, form.get("refresh_token", ""))
    # Refusals that keep the token alive: nothing is revoked or consumed, last_used does not move (section 5).
    _raise(login_refusal(world, app, user, "refresh_token"))
    _raise(refresh_ip_refusal(app, req.client_ip))
    fam.last_used = world.now()  # every redemption (the "expire if unused" policy counts from here)
    return refresh_answer(world.issue(app, user, req.host, fam.scope, family=fam))


def _redeemable_family(world: World, req: Request, app: AppConfig, value: str) -> tuple[Family, UserConfig]:
    if not value:
        raise OAuthError("invalid_request", "missing required refresh_token parameter")
    fam = world.families.get(world.refresh_tokens.get(value) or "")
    if fam is None or fam.app_key != app.consumer_key or not world.host_serves_org(req.host, fam.org_id):
        # section 1: a refresh must go to the host that issued the token (or the org's My Domain); the other
        # host does not know the token.
        raise OAuthError(*EXPIRED_TOKEN)
    if value != fam.current_rt:
        # section 6: presenting a rotated-out RT revokes the current RT and all its access tokens.
        world.reuse_detections += 1
        world.revoke_family(fam, cause="reuse")
        raise OAuthError(*EXPIRED_TOKEN)
    if not fam.active or world.refresh_expired(app, fam):
        # Revoked, or the app's refresh token policy (section 7: immediately / after N / idle for N).
        raise OAuthError(*EXPIRED_TOKEN)
    user = world.users.get(fam.user_id)
    if user is None or not user.active:
        raise OAuthError(*DEACTIVATED)
    return fam, user


def _raise(refusal: OAuthError | None) -> None:
    if refusal is not None:
        raise refusal


def _has_openid(scope: str) -> bool:
    return "openid" in scope.split()


def _id_token(world: World, app: AppConfig, user: UserConfig, host: Host, access_token: str) -> str:
    """OpenID ``id_token`` (RS256 only, salesforce.md section 1) when the scope has ``openid``."""
    now = int(world.now())
    issuer = world.url_for(host.key)
    claims = {
        "iss": issuer,
        "sub": f"{issuer}/id/{user.org_id}/{user.user_id}",
        "aud": app.consumer_key,
        "iat": now,
        "exp": now + 300,
        "at_hash": base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()[:16])
        .rstrip(b"=")
        .decode(),
    }
    return jwt.encode(claims, world.id_token_key_pem, algorithm="RS256", headers={"kid": "sf360emu"})
