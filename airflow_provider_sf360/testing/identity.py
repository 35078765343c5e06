"""Who a token belongs to: userinfo, the identity URL, JWKS and discovery (salesforce.md sections 1 and 4).

Answer keys are those of the "Salesforce Platform APIs" Postman collection's examples ("User Info", "ID Token"),
which extend the lists in salesforce.md section 4 (help xcloud.remoteaccess_using_userinfo_endpoint.htm and
xcloud.remoteaccess_using_openid.htm). Values are the emulator's own (photos and addresses are placeholders).
"""

from __future__ import annotations

import json
from typing import Any

import jwt

from airflow_provider_sf360.core.ids import InvalidSalesforceIdError, canonical_id
from airflow_provider_sf360.testing.config import API_VERSION, UserConfig
from airflow_provider_sf360.testing.messages import Request, Response, invalid_session, json_response, text_response
from airflow_provider_sf360.testing.state import World

_UPDATED = "2024-01-01T00:00:00Z"
_LAST_MODIFIED = "2024-01-01T00:00:00.000+0000"


def api_urls(world: World, org_id: str, user_id: str) -> dict[str, str]:
    """The ``urls`` object of userinfo and identity answers.

    :param world: the emulated Salesforce.
    :param org_id: the org (its My Domain URL is the base).
    :param user_id: the user (the ``profile`` URL).
    """
    base, v = world.instance_url(org_id), API_VERSION
    data = f"{base}/services/data/v{v}"
    return {
        "enterprise": f"{base}/services/Soap/c/{v}/{org_id}", "metadata": f"{base}/services/Soap/m/{v}/{org_id}",
        "partner": f"{base}/services/Soap/u/{v}/{org_id}", "rest": f"{data}/", "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/", "query": f"{data}/query/", "recent": f"{data}/recent/",
        "tooling_soap": f"{base}/services/Soap/T/{v}/{org_id}", "tooling_rest": f"{data}/tooling/",
        "profile": f"{base}/{user_id}", "feeds": f"{data}/chatter/feeds", "groups": f"{data}/chatter/groups",
        "users": f"{data}/chatter/users", "feed_items": f"{data}/chatter/feed-items",
        "feed_elements": f"{data}/chatter/feed-elements", "custom_domain": base,
    }


def _photos(world: World, user: UserConfig) -> dict[str, str]:
    base = world.instance_url(user.org_id)
    return {"picture": f"{base}/profilephoto/005/F", "thumbnail": f"{base}/profilephoto/005/T"}


def _locale_fields(user: UserConfig) -> dict[str, Any]:
    return {"active": user.active, "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0}


def userinfo(world: World, req: Request) -> Response:
    """``/services/oauth2/userinfo`` (salesforce.md section 4).

    A dead token gets 401 with the section 5 JSON array: salesforce.md does not document the userinfo error, so
    the REST body is reused (emulator choice).

    :param world: the emulated Salesforce.
    :param req: the request (bearer token or ``oauth_token``).
    """
    with world.lock:
        tok = world.session_alive(req.bearer())
        if tok is None or not world.host_serves_org(req.host, tok.org_id):
            return invalid_session()
        user = world.users[tok.user_id]
        return json_response(200, {
            "sub": tok.id_url, "user_id": user.user_id, "organization_id": tok.org_id,
            "preferred_username": user.username, "nickname": user.username.split("@")[0], "name": user.name,
            "email": user.email, "email_verified": True, "given_name": user.name.split()[0],
            "family_name": user.name.split()[-1], "zoneinfo": "GMT", "photos": _photos(world, user),
            "profile": f"{world.instance_url(user.org_id)}/{user.user_id}", "picture": _photos(world, user)["picture"],
            "address": {"country": "US"}, "is_salesforce_integration_user": False,
            "urls": api_urls(world, tok.org_id, user.user_id), **_locale_fields(user), "updated_at": _UPDATED,
            "is_app_installed": True,
        })


def identity(world: World, req: Request) -> Response:
    """``/id/<orgId>/<userId>`` (salesforce.md section 4). IDs may be 15 or 18 chars.

    Errors are not documented in salesforce.md; Salesforce answers 403 with the text ``Bad_OAuth_Token`` for a
    dead token and ``Bad_Id`` for IDs that are not the token's.

    :param world: the emulated Salesforce.
    :param req: the request (bearer token or ``oauth_token``).
    """
    parts = req.path.strip("/").split("/")
    with world.lock:
        tok = world.session_alive(req.bearer())
        if tok is None or not world.host_serves_org(req.host, tok.org_id):
            return text_response(403, "Bad_OAuth_Token")
        try:
            org_id, user_id = canonical_id(parts[1]), canonical_id(parts[2])
        except (IndexError, InvalidSalesforceIdError):
            return text_response(403, "Bad_Id")
        if (org_id, user_id) != (tok.org_id, tok.user_id):
            return text_response(403, "Bad_Id")
        return json_response(200, _identity_body(world, tok.id_url, world.users[user_id]))


def _identity_body(world: World, id_url: str, user: UserConfig) -> dict[str, Any]:
    address = {"addr_street": None, "addr_city": None, "addr_state": None, "addr_country": "US", "addr_zip": None}
    return {
        "id": id_url, "asserted_user": True, "user_id": user.user_id, "organization_id": user.org_id,
        "username": user.username, "nick_name": user.username.split("@")[0], "display_name": user.name,
        "email": user.email, "email_verified": True, "first_name": user.name.split()[0],
        "last_name": user.name.split()[-1], "timezone": "GMT", "photos": _photos(world, user), **address,
        "mobile_phone": None, "mobile_phone_verified": False, "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None}, "urls": api_urls(world, user.org_id, user.user_id),
        **_locale_fields(user), "last_modified_date": _LAST_MODIFIED, "is_app_installed": True,
    }


def jwks(world: World, req: Request) -> Response:
    """``/id/keys``: the key that signs ``id_token`` (salesforce.md section 1, RS256 only).

    :param world: the emulated Salesforce.
    :param req: the request.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(world.id_token_key_pem.encode(), None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
    jwk.update({"kid": "sf360emu", "use": "sig", "alg": "RS256"})
    return json_response(200, {"keys": [jwk]})


def discovery(world: World, req: Request) -> Response:
    """``/.well-known/openid-configuration`` (salesforce.md section 1).

    :param world: the emulated Salesforce.
    :param req: the request (its host is the issuer).
    """
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
