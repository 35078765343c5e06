"""Token revocation and introspection (salesforce.md section 4).

- Revoke (Mobile SDK guide "Revoking OAuth Tokens", oauth_revoking_tokens.htm): ``token=<access or refresh
  token>`` as a POST body (or a GET query). 200 with an empty body; 400 ``unsupported_token_type`` or
  ``invalid_token``. Revoking a refresh token also revokes all its access tokens. No client authentication.
- Introspect (help xcloud.remoteaccess_oidc_token_introspection_endpoint.htm): needs the client id **and secret**
  (body or HTTP Basic); an active token gives ``active, scope, client_id, username, sub, token_type, exp, iat,
  nbf`` (the help page and the "Salesforce Platform APIs" Postman collection); anything else ``{"active": false}``.
  A client sees only its own app's tokens.
"""

from __future__ import annotations

from airflow_provider_sf360.testing.client_auth import authenticate_client, client_of
from airflow_provider_sf360.testing.config import AppConfig
from airflow_provider_sf360.testing.messages import Request, Response, json_response, oauth_error
from airflow_provider_sf360.testing.records import OAuthError
from airflow_provider_sf360.testing.state import World

#: The keys of an active introspection answer (see the module doc).
INTROSPECTION_KEYS = ("active", "scope", "client_id", "username", "sub", "token_type", "exp", "iat", "nbf")


def revoke(world: World, req: Request) -> Response:
    """``/services/oauth2/revoke`` (salesforce.md section 4): 200 with an empty body, or 400.

    :param world: the emulated Salesforce.
    :param req: the request.
    """
    value = (req.form() if req.method == "POST" else req.query).get("token", "")
    if not value:
        # section 4 lists only unsupported_token_type and invalid_token; a missing token is reported
        # with unsupported_token_type (emulator choice).
        return oauth_error("unsupported_token_type", "unsupported token type")
    with world.lock:
        fam = world.families.get(world.refresh_tokens.get(value) or "")
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
    """``POST /services/oauth2/introspect`` with client id and secret (salesforce.md section 4).

    :param world: the emulated Salesforce.
    :param req: the request.
    """
    form = req.form()
    client_id, secret = client_of(req, form)
    try:
        with world.lock:
            app = authenticate_client(world, client_id, secret, require_secret=True)
            return json_response(200, _introspection(world, app, form.get("token", "")))
    except OAuthError as exc:
        return oauth_error(exc.error, exc.description, exc.status)


def _introspection(world: World, app: AppConfig, value: str) -> dict[str, object]:
    tok = world.access_token_alive(value)
    if tok is not None and tok.app_key == app.consumer_key:
        user = world.users[tok.user_id]
        return {
            "active": True, "scope": tok.scope, "client_id": tok.app_key, "username": user.username,
            "sub": tok.id_url, "token_type": "access_token", "exp": world.access_token_exp(tok),
            "iat": int(tok.issued), "nbf": int(tok.issued),
        }
    fam = world.families.get(world.refresh_tokens.get(value, ""))
    owner = world.users.get(fam.user_id) if fam is not None else None
    if (
        fam is not None and owner is not None and owner.active and fam.active and value == fam.current_rt
        and fam.app_key == app.consumer_key and not world.refresh_expired(app, fam)
    ):
        # Salesforce documents no example for a refresh token; the emulator answers the same keys without
        # ``exp`` (a refresh token has no fixed expiry under "valid until revoked").
        return {
            "active": True, "scope": fam.scope, "client_id": fam.app_key, "username": owner.username,
            "sub": f"{world.url_for(fam.host_key)}/id/{fam.org_id}/{fam.user_id}",
            "token_type": "refresh_token", "iat": int(fam.created), "nbf": int(fam.created),
        }
    return {"active": False}
