"""OAuth endpoints: authorize, token, revoke, introspect, userinfo, identity (salesforce.md sections 1-5).

Every error pair below is from salesforce.md section 5 unless a comment says it is not documented
there (then it is the string real Salesforce sends, named as such, or an emulator choice).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import jwt
from cryptography import x509

from airflow_provider_sf360.testing import pages
from airflow_provider_sf360.testing.config import AppConfig, UserConfig
from airflow_provider_sf360.testing.messages import (
    Request,
    Response,
    html_response,
    invalid_session,
    json_response,
    oauth_error,
    redirect,
    text_response,
)
from airflow_provider_sf360.testing.state import CODE_LIFETIME_SECONDS, Host, OAuthError, World

API_VERSION = "62.0"
AUTHORIZE_PATH = "/services/oauth2/authorize"
GRANT_NAMES = {
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer": "jwt_bearer",
    "client_credentials": "client_credentials",
}
#: salesforce.md section 2.3: JWT ``aud`` is https://login.salesforce.com (production) or
#: https://test.salesforce.com (sandbox). The emulator's own login/test URLs are accepted as aliases.
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
_LOGIN_FAILED = (
    "Please check your username and password. If you still can't log in, contact your Salesforce administrator."
)


# ------------------------------------------------------------------ helpers
def s256(verifier: str) -> str:
    """salesforce.md section 2.1: challenge = BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _granted_scope(app: AppConfig, requested: str) -> str:
    """Requested scopes the app allows; the app's scopes when none are requested."""
    wanted = [s for s in requested.split() if s in app.scopes]
    return " ".join(wanted or app.scopes)


def _has_refresh_scope(scope: str) -> bool:
    """salesforce.md section 2.1: include ``refresh_token`` or ``offline_access`` to get a refresh token."""
    return bool({"refresh_token", "offline_access"} & set(scope.split()))


def _client(req: Request, form: dict[str, str]) -> tuple[str, str | None]:
    """Client id and secret from HTTP Basic or body fields (salesforce.md section 2)."""
    basic = req.basic_auth()
    if basic:
        return basic
    return form.get("client_id", ""), form.get("client_secret")


def _authenticate(world: World, client_id: str, secret: str | None, require_secret: bool) -> AppConfig:
    app = world.app(client_id)
    if app is None:
        # section 5: invalid_client_id for an unknown consumer key ("client identifier invalid" is the
        # description Salesforce sends; salesforce.md elides it as "…").
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if secret is None or secret == "":
        if require_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
    elif not secrets.compare_digest(secret, app.consumer_secret):
        raise OAuthError("invalid_client", "invalid client credentials")
    return app


def _id_token(world: World, app: AppConfig, user: UserConfig, host: Host, access_token: str) -> str:
    """OpenID ``id_token`` (RS256 only, salesforce.md section 1) when the scope has ``openid``."""
    now = int(world.now())
    claims = {
        "iss": world.url_for(host.key),
        "sub": f"{world.url_for(host.key)}/id/{user.org_id}/{user.user_id}",
        "aud": app.consumer_key,
        "iat": now,
        "exp": now + 300,
        "at_hash": base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()[:16])
        .rstrip(b"=")
        .decode(),
    }
    return jwt.encode(claims, world.id_token_key_pem, algorithm="RS256", headers={"kid": "sf360emu"})


def _with_id_token(
    world: World, app: AppConfig, user: UserConfig, host: Host, tok: dict[str, str]
) -> dict[str, str]:
    if "openid" in tok["scope"].split():
        tok["id_token"] = _id_token(world, app, user, host, tok["access_token"])
    return tok


# ------------------------------------------------------------------ authorize
def _redirect_with(uri: str, params: dict[str, str]) -> Response:
    sep = "&" if "?" in uri else "?"
    return redirect(uri + sep + urlencode({k: v for k, v in params.items() if v}))


def authorize(world: World, req: Request) -> Response:
    """``/services/oauth2/authorize``: login page, consent page, redirect (salesforce.md section 2.1)."""
    params = req.query if req.method == "GET" else req.form()
    action = req.base_url + AUTHORIZE_PATH
    with world.lock:
        app = world.app(params.get("client_id", ""))
        if app is None:
            # Unknown client or callback: Salesforce shows an error page and does not redirect.
            return html_response(400, pages.error_page("invalid_client_id", "client identifier invalid"))
        uri = params.get("redirect_uri", "")
        if uri not in app.callback_urls:
            return html_response(
                400, pages.error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
            )
        state = params.get("state", "")
        if params.get("response_type") != "code":
            # Only the web server flow is emulated; older docs list unsupported_response_type (section 5).
            return _redirect_with(uri, {"error": "unsupported_response_type",
                                        "error_description": "response type not supported", "state": state})
        challenge, method = params.get("code_challenge", ""), params.get("code_challenge_method", "")
        if challenge and method not in ("", "S256"):
            # section 2.1: S256 only, `plain` is not accepted (secondary). Description: emulator wording.
            return _redirect_with(uri, {"error": "invalid_request",
                                        "error_description": "invalid code challenge method", "state": state})
        if app.pkce_required and not challenge:
            # PKCE required on the app (section 2.1); description is the one Salesforce sends.
            return _redirect_with(uri, {"error": "invalid_request",
                                        "error_description": "missing required code challenge", "state": state})
        step = params.get("sf360_step", "") if req.method == "POST" else ""
        if not step:
            if world.auto_approve:
                user = world.user_by_username(params.get("login_hint", "")) or world.default_user_for(req.host)
                if user is None or not user.active or not world.host_serves_org(req.host, user.org_id):
                    return html_response(400, pages.login_page(action, params, _LOGIN_FAILED))
                return _code_redirect(world, app, user, uri, params, req.host)
            return html_response(200, pages.login_page(action, params))
        user = world.user_by_username(params.get("username", ""))
        if user is None or not user.active or not world.host_serves_org(req.host, user.org_id):
            # A user of another org kind (sandbox at login, production at test) is "not found" here.
            return html_response(200, pages.login_page(action, params, _LOGIN_FAILED))
        if step == "login":
            scope = _granted_scope(app, params.get("scope", ""))
            return html_response(200, pages.consent_page(action, params, user.username, app.name, scope))
        if params.get("action") == "allow":
            return _code_redirect(world, app, user, uri, params, req.host)
        # section 2.1: refusal → ?error=access_denied
        return _redirect_with(uri, {"error": "access_denied",
                                    "error_description": "end-user denied authorization", "state": state})


def _code_redirect(
    world: World, app: AppConfig, user: UserConfig, uri: str, params: dict[str, str], host: Host
) -> Response:
    scope = _granted_scope(app, params.get("scope", ""))
    code = world.new_code(app.consumer_key, user.user_id, uri, params.get("code_challenge", ""), scope, host)
    return _redirect_with(uri, {"code": code, "state": params.get("state", "")})


# ------------------------------------------------------------------ token
def grant_name(req: Request) -> str:
    """Short grant name for the request log (``jwt_bearer`` for the URN grant)."""
    if not req.path.startswith("/services/oauth2/token"):
        return ""
    grant = req.form().get("grant_type", "")
    return GRANT_NAMES.get(grant, "other" if grant else "none")


def token(world: World, req: Request) -> Response:
    """``POST /services/oauth2/token`` (salesforce.md section 2)."""
    if req.method != "POST":
        return oauth_error("invalid_request", "must use HTTP POST", 405)
    form = req.form()
    grant = form.get("grant_type", "")
    handlers = {
        "authorization_code": _grant_code,
        "refresh_token": _grant_refresh,
        "urn:ietf:params:oauth:grant-type:jwt-bearer": _grant_jwt,
        "client_credentials": _grant_client_credentials,
    }
    handler = handlers.get(grant)
    if handler is None:
        # section 5 (the password and device grants are not emulated either).
        return _formatted(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                          _response_format(req, form))
    fmt = _response_format(req, form)
    try:
        with world.lock:
            return _formatted(200, handler(world, req, form), fmt)
    except OAuthError as exc:
        return _formatted(exc.status, {"error": exc.error, "error_description": exc.description}, fmt)


def _response_format(req: Request, form: dict[str, str]) -> str:
    """salesforce.md section 2: format chosen with ``format=json|urlencoded|xml`` or ``Accept:``."""
    fmt = form.get("format", "").lower()
    if fmt in ("json", "urlencoded", "xml"):
        return fmt
    accept = req.headers.get("accept", "").lower()
    if "application/json" in accept:
        return "json"
    if "application/x-www-form-urlencoded" in accept:
        return "urlencoded"
    if "xml" in accept:
        return "xml"
    return "json"


def _formatted(status: int, data: dict[str, str], fmt: str) -> Response:
    if fmt == "urlencoded":
        return Response(status, urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    if fmt == "xml":
        from xml.sax.saxutils import escape

        items = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in data.items())
        body = f'<?xml version="1.0" encoding="UTF-8"?><OAuth>{items}</OAuth>'
        return Response(status, body.encode(), {"Content-Type": "application/xml;charset=UTF-8"})
    return json_response(status, data)


def _grant_code(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Authorization code grant with PKCE (salesforce.md section 2.1)."""
    cid, secret = _client(req, form)
    app = world.app(cid)
    app = _authenticate(world, cid, secret, app.require_secret if app else True)
    value = form.get("code", "")
    if not value:
        raise OAuthError("invalid_request", "missing required code parameter")
    code = world.codes.get(value)
    user = world.users.get(code.user_id) if code else None
    if (
        code is None or user is None or code.used or code.app_key != app.consumer_key
        or world.now() - code.created > CODE_LIFETIME_SECONDS
        or not world.host_serves_org(req.host, user.org_id)
    ):
        # Codes are single-use and short-lived (section 2.1). The description is the one Salesforce
        # sends for this case; salesforce.md section 5 lists only the invalid_grant code.
        raise OAuthError("invalid_grant", "expired authorization code")
    if form.get("redirect_uri", "") != code.redirect_uri:
        # section 2.1: redirect_uri must equal the one of the authorize request.
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
    verifier = form.get("code_verifier", "")
    if verifier:
        world.secrets_seen.add(verifier)
    if code.challenge and not verifier:
        # section 2.1: challenge given at authorize but no verifier at token time → invalid_grant.
        raise OAuthError("invalid_grant", "invalid code verifier")
    if verifier and (not 43 <= len(verifier) <= 128 or s256(verifier) != code.challenge):
        # section 2.1: verifier sent but not matching (or 43-128 chars rule broken) → invalid_request.
        raise OAuthError("invalid_request", "invalid code verifier")
    if not user.active:
        raise OAuthError("invalid_grant", "authentication failure")
    code.used = True
    tok = world.issue(app, user, req.host, code.scope, new_family=_has_refresh_scope(code.scope))
    return _with_id_token(world, app, user, req.host, tok)


def _grant_refresh(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Refresh token grant, rotation and reuse detection (salesforce.md sections 2.2 and 6)."""
    cid, secret = _client(req, form)
    app = world.app(cid)
    app = _authenticate(world, cid, secret, app.require_secret if app else True)
    if "scope" in form:
        # section 2.2: "Do not send scope on refresh: Salesforce is reported to reject it". The
        # description is an emulator choice (not documented).
        raise OAuthError("invalid_request", "scope parameter not supported on refresh")
    value = form.get("refresh_token", "")
    if not value:
        raise OAuthError("invalid_request", "missing required refresh_token parameter")
    expired = OAuthError("invalid_grant", "expired access/refresh token")
    fid = world.refresh_tokens.get(value)
    fam = world.families.get(fid or "")
    if fam is None or fam.app_key != app.consumer_key:
        raise expired
    if not world.host_serves_org(req.host, fam.org_id):
        # section 1: a refresh must go to the host that issued the token (or the org's My Domain);
        # the other host does not know the token.
        raise expired
    if value != fam.current_rt:
        # section 6: presenting a rotated-out RT revokes the current RT and all its access tokens.
        world.reuse_detections += 1
        world.revoke_family(fam, cause="reuse")
        raise expired
    if not fam.active:
        raise expired
    if world.refresh_expired(app, fam):
        # section 7 refresh token policy (immediately expire / expire after N / idle N).
        raise expired
    user = world.users.get(fam.user_id)
    if user is None or not user.active:
        # section 5: user deactivated → authentication failure.
        raise OAuthError("invalid_grant", "authentication failure")
    fam.last_used = world.now()
    tok = world.issue(app, user, req.host, fam.scope, family=fam)
    return _with_id_token(world, app, user, req.host, tok)


def _grant_jwt(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """JWT bearer grant (salesforce.md section 2.3)."""
    assertion = form.get("assertion", "")
    # Malformed/unsigned assertions: Salesforce answers invalid_grant "invalid assertion" (not in
    # salesforce.md section 5, which lists only the approval and audience descriptions).
    bad = OAuthError("invalid_grant", "invalid assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise bad from None
    if header.get("alg") != "RS256":
        raise bad
    app = world.app(str(claims.get("iss", "")))
    if app is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    cert_pem = world.app_certificate(app)
    if not cert_pem:
        raise bad
    public_key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    try:
        jwt.decode(
            assertion, public_key, algorithms=["RS256"],  # type: ignore[arg-type]
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise bad from None
    try:
        exp = int(claims["exp"])  # simple-salesforce sends exp as a string of epoch seconds
    except (KeyError, TypeError, ValueError):
        raise bad from None
    if exp <= world.now():
        # Expired assertion (clock skew, section 2.3). section 5 lists "token validity expired".
        raise OAuthError("invalid_grant", "token validity expired")
    user = world.user_by_username(str(claims.get("sub", "")))
    if user is None or not world.host_serves_org(req.host, user.org_id):
        # A sandbox user at the production host (or vice versa) is unknown there (section 1).
        raise OAuthError("invalid_grant", "authentication failure")
    org = world.orgs[user.org_id]
    audiences = (
        {SANDBOX_AUDIENCE, world.url_for("test")} if org.is_sandbox
        else {PRODUCTION_AUDIENCE, world.url_for("login")}
    )
    aud = claims.get("aud")
    aud_values = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in aud_values):
        raise OAuthError("invalid_grant", "audience is invalid")
    if not user.active:
        raise OAuthError("invalid_grant", "authentication failure")
    if not world.family_has_approval(user.user_id, app.consumer_key):
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    scope = " ".join(s for s in app.scopes if s not in ("refresh_token", "offline_access"))
    # section 2.3: no refresh token is returned.
    return world.issue(app, user, req.host, scope)


def _grant_client_credentials(world: World, req: Request, form: dict[str, str]) -> dict[str, str]:
    """Client credentials grant, My Domain host only (salesforce.md section 2.4)."""
    cid, secret = _client(req, form)
    app = _authenticate(world, cid, secret, require_secret=True)
    if req.host.kind != "mydomain":
        # section 1/2.4: only on the My Domain host. salesforce.md documents no error pair for this;
        # "request not supported on this domain" is what Salesforce sends at login.salesforce.com.
        raise OAuthError("invalid_grant", "request not supported on this domain")
    user = world.user_by_username(app.run_as_username) if app.run_as_username else None
    if user is None or not world.host_serves_org(req.host, user.org_id):
        # Not in salesforce.md; Salesforce's string when the app has no run-as user for this org.
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    if not user.active:
        raise OAuthError("invalid_grant", "authentication failure")
    scope = " ".join(s for s in app.scopes if s not in ("refresh_token", "offline_access"))
    return world.issue(app, user, req.host, scope)


# ------------------------------------------------------------------ revoke / introspect
def revoke(world: World, req: Request) -> Response:
    """``/services/oauth2/revoke`` (salesforce.md section 4): 200, or 400 invalid_token."""
    value = (req.form() if req.method == "POST" else req.query).get("token", "")
    if not value:
        # section 4 lists only unsupported_token_type and invalid_token; a missing token is reported
        # with unsupported_token_type (emulator choice).
        return oauth_error("unsupported_token_type", "unsupported token type")
    with world.lock:
        fid = world.refresh_tokens.get(value)
        fam = world.families.get(fid or "")
        if fam is not None and fam.active and world.host_serves_org(req.host, fam.org_id):
            # Revoking a refresh token also revokes all its access tokens (section 4).
            world.revoke_family(fam, cause="revoke_endpoint")
            return Response(200, b"", {"Content-Type": "text/plain"})
        tok = world.access_tokens.get(value)
        if tok is not None and tok.active and world.host_serves_org(req.host, tok.org_id):
            tok.active = False
            return Response(200, b"", {"Content-Type": "text/plain"})
    return oauth_error("invalid_token", "invalid token")


def introspect(world: World, req: Request) -> Response:
    """``POST /services/oauth2/introspect`` with client auth (salesforce.md section 4)."""
    form = req.form()
    cid, secret = _client(req, form)
    try:
        with world.lock:
            app = _authenticate(world, cid, secret, require_secret=True)
            return json_response(200, _introspect(world, app, form.get("token", "")))
    except OAuthError as exc:
        return oauth_error(exc.error, exc.description, exc.status)


def _introspect(world: World, app: AppConfig, value: str) -> dict[str, object]:
    tok = world.access_token_alive(value)
    if tok is not None and tok.app_key == app.consumer_key:
        user = world.users[tok.user_id]
        return {
            "active": True, "scope": tok.scope, "client_id": tok.app_key, "username": user.username,
            "sub": tok.id_url, "token_type": "access_token", "exp": world.access_token_exp(tok),
            "iat": int(tok.issued), "nbf": int(tok.issued),
        }
    fam = world.families.get(world.refresh_tokens.get(value, ""))
    if (
        fam is not None and fam.active and value == fam.current_rt and fam.app_key == app.consumer_key
        and not world.refresh_expired(app, fam) and world.users.get(fam.user_id) is not None
        and world.users[fam.user_id].active
    ):
        user = world.users[fam.user_id]
        return {
            "active": True, "scope": fam.scope, "client_id": fam.app_key, "username": user.username,
            "sub": f"{world.url_for(fam.host_key)}/id/{fam.org_id}/{fam.user_id}",
            "token_type": "refresh_token", "iat": int(fam.created), "nbf": int(fam.created),
        }
    return {"active": False}


# ------------------------------------------------------------------ userinfo / identity
def _urls(world: World, org_id: str, user_id: str) -> dict[str, str]:
    base = world.instance_url(org_id)
    v = API_VERSION
    return {
        "enterprise": f"{base}/services/Soap/c/{v}/{org_id}",
        "metadata": f"{base}/services/Soap/m/{v}/{org_id}",
        "partner": f"{base}/services/Soap/u/{v}/{org_id}",
        "rest": f"{base}/services/data/v{v}/",
        "sobjects": f"{base}/services/data/v{v}/sobjects/",
        "search": f"{base}/services/data/v{v}/search/",
        "query": f"{base}/services/data/v{v}/query/",
        "recent": f"{base}/services/data/v{v}/recent/",
        "profile": f"{base}/{user_id}",
    }


def userinfo(world: World, req: Request) -> Response:
    """``/services/oauth2/userinfo`` (salesforce.md section 4).

    A dead token gets 401 with the section 5 JSON array: salesforce.md does not document the
    userinfo error, so the REST body is reused (emulator choice).
    """
    with world.lock:
        tok = world.access_token_alive(req.bearer())
        if tok is None or not world.host_serves_org(req.host, tok.org_id):
            return invalid_session()
        user, org = world.users[tok.user_id], world.orgs[tok.org_id]
        return json_response(200, {
            "sub": tok.id_url, "user_id": user.user_id, "organization_id": org.org_id,
            "preferred_username": user.username, "nickname": user.username.split("@")[0],
            "name": user.name, "email": user.email, "email_verified": True,
            "is_salesforce_integration_user": False, "urls": _urls(world, org.org_id, user.user_id),
            "active": user.active, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
            "utcOffset": 0, "updated_at": "2024-01-01T00:00:00Z", "is_app_installed": True,
        })


def identity(world: World, req: Request) -> Response:
    """``/id/<orgId>/<userId>`` (salesforce.md section 4). IDs may be 15 or 18 chars.

    Errors are not documented in salesforce.md; Salesforce answers 403 with the text
    ``Bad_OAuth_Token`` for a dead token and ``Bad_Id`` for IDs that are not the token's.
    """
    from airflow_provider_sf360.core.ids import InvalidSalesforceIdError, canonical_id

    parts = req.path.strip("/").split("/")
    with world.lock:
        tok = world.access_token_alive(req.bearer())
        if tok is None or not world.host_serves_org(req.host, tok.org_id):
            return text_response(403, "Bad_OAuth_Token")
        try:
            org_id, user_id = canonical_id(parts[1]), canonical_id(parts[2])
        except (IndexError, InvalidSalesforceIdError):
            return text_response(403, "Bad_Id")
        if (org_id, user_id) != (tok.org_id, tok.user_id):
            return text_response(403, "Bad_Id")
        user = world.users[user_id]
        return json_response(200, {
            "id": tok.id_url, "asserted_user": True, "user_id": user_id, "organization_id": org_id,
            "username": user.username, "nick_name": user.username.split("@")[0], "display_name": user.name,
            "email": user.email, "first_name": user.name.split()[0], "last_name": user.name.split()[-1],
            "timezone": "GMT", "urls": _urls(world, org_id, user_id), "active": user.active,
            "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0,
            "last_modified_date": "2024-01-01T00:00:00.000+0000", "is_app_installed": True,
        })


def jwks(world: World, req: Request) -> Response:
    """``/id/keys``: the key that signs ``id_token`` (salesforce.md section 1, RS256 only)."""
    import json

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(world.id_token_key_pem.encode(), None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
    jwk.update({"kid": "sf360emu", "use": "sig", "alg": "RS256"})
    return json_response(200, {"keys": [jwk]})


def discovery(world: World, req: Request) -> Response:
    """``/.well-known/openid-configuration`` (salesforce.md section 1)."""
    b = req.base_url
    return json_response(200, {
        "issuer": b, "authorization_endpoint": f"{b}/services/oauth2/authorize",
        "token_endpoint": f"{b}/services/oauth2/token", "revocation_endpoint": f"{b}/services/oauth2/revoke",
        "userinfo_endpoint": f"{b}/services/oauth2/userinfo",
        "introspection_endpoint": f"{b}/services/oauth2/introspect", "jwks_uri": f"{b}/id/keys",
        "response_types_supported": ["code", "token", "token id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["api", "refresh_token", "offline_access", "id", "openid", "profile", "email",
                             "web", "full"],
        "code_challenge_methods_supported": ["S256"],
    })
