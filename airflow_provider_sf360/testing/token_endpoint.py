"""``POST /services/oauth2/token``: dispatch to the grant handlers and answer in the asked format.

salesforce.md section 2: form-encoded POST; the answer format is chosen with ``format=json|urlencoded|xml`` or an
``Accept:`` header; errors are HTTP 400 ``{"error", "error_description"}`` (section 5). The grants live in
:mod:`web_flow_grants` (authorization code, refresh token) and :mod:`machine_grants` (JWT bearer, client
credentials).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from airflow_provider_sf360.testing.machine_grants import grant_client_credentials, grant_jwt_bearer
from airflow_provider_sf360.testing.messages import Request, Response, json_response, oauth_error
from airflow_provider_sf360.testing.records import OAuthError
from airflow_provider_sf360.testing.state import World
from airflow_provider_sf360.testing.web_flow_grants import grant_authorization_code, grant_refresh_token

TOKEN_PATH = "/services/oauth2/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Short grant names for the request log and counts.
GRANT_NAMES = {
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    JWT_BEARER_GRANT: "jwt_bearer",
    "client_credentials": "client_credentials",
}
GrantHandler = Callable[[World, Request, dict[str, str]], dict[str, str]]
_HANDLERS: dict[str, GrantHandler] = {
    "authorization_code": grant_authorization_code,
    "refresh_token": grant_refresh_token,
    JWT_BEARER_GRANT: grant_jwt_bearer,
    "client_credentials": grant_client_credentials,
}


def grant_name(req: Request) -> str:
    """Short grant name of a token request for the request log (``jwt_bearer`` for the URN grant).

    :param req: any request; "" when it is not a token request.
    """
    if not req.path.startswith(TOKEN_PATH):
        return ""
    grant = req.form().get("grant_type", "")
    return GRANT_NAMES.get(grant, "other" if grant else "none")


def token(world: World, req: Request) -> Response:
    """``POST /services/oauth2/token`` (salesforce.md section 2).

    :param world: the emulated Salesforce.
    :param req: the request.
    """
    if req.method != "POST":
        return oauth_error("invalid_request", "must use HTTP POST", 405)
    form = req.form()
    fmt = response_format(req, form)
    handler = _HANDLERS.get(form.get("grant_type", ""))
    if handler is None:
        # section 5 (the password and device grants are not emulated either).
        return formatted(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                         fmt)
    try:
        with world.lock:
            return formatted(200, handler(world, req, form), fmt)
    except OAuthError as exc:
        return formatted(exc.status, {"error": exc.error, "error_description": exc.description}, fmt)


def response_format(req: Request, form: dict[str, str]) -> str:
    """salesforce.md section 2: format chosen with ``format=json|urlencoded|xml`` or ``Accept:`` (default json).

    :param req: the request (its ``Accept`` header).
    :param form: the request's form fields (``format`` wins over ``Accept``).
    """
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


def formatted(status: int, data: dict[str, str], fmt: str) -> Response:
    """An answer in ``json``, ``urlencoded`` or ``xml``.

    :param status: the HTTP status.
    :param data: the fields.
    :param fmt: the format (see :func:`response_format`).
    """
    if fmt == "urlencoded":
        return Response(status, urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    if fmt == "xml":
        items = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in data.items())
        body = f'<?xml version="1.0" encoding="UTF-8"?><OAuth>{items}</OAuth>'
        return Response(status, body.encode(), {"Content-Type": "application/xml;charset=UTF-8"})
    return json_response(status, data)
