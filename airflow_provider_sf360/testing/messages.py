"""Request and response values passed between the HTTP plumbing and the endpoint handlers."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from airflow_provider_sf360.testing.records import Host


@dataclass
class Request:
    """A parsed HTTP request. ``headers`` keys are lower-case; ``client_ip`` is the caller's address."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    host: Host
    base_url: str
    client_ip: str = "127.0.0.1"

    def form(self) -> dict[str, str]:
        """Form fields of an ``application/x-www-form-urlencoded`` body (salesforce.md section 2)."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")

    def bearer(self) -> str:
        """Token from ``Authorization: Bearer``, else the ``oauth_token`` parameter (section 4)."""
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return self.query.get("oauth_token", "")

    def basic_auth(self) -> tuple[str, str] | None:
        """Client id/secret from HTTP Basic (salesforce.md section 2: body fields or Basic)."""
        auth = self.headers.get("authorization", "")
        if auth[:6].lower() != "basic ":
            return None
        try:
            raw = base64.b64decode(auth[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        cid, _, secret = raw.partition(":")

        return unquote_plus(cid), unquote_plus(secret)


@dataclass
class Response:
    """An HTTP response; ``drop=True`` closes the socket without answering (a fault)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    hdrs = {"Content-Type": "application/json;charset=UTF-8"}
    hdrs.update(headers or {})
    return Response(status, json.dumps(data).encode(), hdrs)


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
    hdrs = {"Content-Type": "text/html;charset=UTF-8", "Cache-Control": "no-store"}
    hdrs.update(headers or {})
    return Response(status, html.encode(), hdrs)


def text_response(status: int, text: str, content_type: str = "text/plain;charset=UTF-8") -> Response:
    return Response(status, text.encode(), {"Content-Type": content_type})


def redirect(location: str) -> Response:
    return Response(302, b"", {"Location": location, "Cache-Control": "no-store"})


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """salesforce.md section 5: token endpoint errors are HTTP 400 JSON ``{error, error_description}``."""
    return json_response(status, {"error": error, "error_description": description})


#: salesforce.md section 5: REST with a dead/revoked token → 401 with this JSON array.
INVALID_SESSION_BODY = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def invalid_session() -> Response:
    return json_response(401, INVALID_SESSION_BODY)


def rest_error(status: int, error_code: str, message: str, fields: list[str] | None = None) -> Response:
    """REST API error body: a JSON array of ``{message, errorCode[, fields]}`` (section 5 shape)."""
    item: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        item["fields"] = fields
    return json_response(status, [item])
