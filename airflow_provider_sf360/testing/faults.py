"""Fault injection: make the next N requests to an endpoint fail in a chosen way.

Endpoint names (the first path level that matters; see docs/emulator.md): ``authorize``, ``token``,
``revoke``, ``introspect``, ``userinfo``, ``identity`` (``/id/...``), ``rest`` (``/services/data``
except Bulk), ``bulk`` (``/services/data/vXX.X/jobs/...``), or ``any``.

``delay`` sleeps and then processes the request; ``drop`` closes the connection without processing it.
``delay_after`` and ``drop_after`` process the request first (a refresh token is consumed and rotated) and then
answer late or not at all: a client that gave up, or lost the answer, cannot tell what happened.

The error bodies of injected 5xx faults are emulator choices: salesforce.md does not document
Salesforce outage bodies. 429 uses ``rate_limit_exceeded`` / ``number of logins exceeded`` for OAuth
endpoints (section 5 "older docs"; Salesforce's OAuth error list, help remoteaccess_oauth_user_agent_flow:
"rate_limit_exceeded - Number of logins exceeded"; the status 429 is an emulator choice) and
``REQUEST_LIMIT_EXCEEDED`` for REST/Bulk, both with ``Retry-After: 1``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from airflow_provider_sf360.testing.messages import Response, html_response, json_response

ENDPOINTS = ("authorize", "token", "revoke", "introspect", "userinfo", "identity", "rest", "bulk", "any")
KINDS = ("500", "503", "429", "delay", "delay_after", "drop", "drop_after", "malformed_json", "html_error")
# Kinds that let the request be processed (a grant consumed, a token rotated) before the answer is late or lost:
# what Salesforce does with a request the client gave up on (salesforce.md section 13).
PROCESSED_FIRST = ("delay_after", "drop_after")
_OAUTH = {"authorize", "token", "revoke", "introspect", "userinfo", "identity"}


@dataclass
class Fault:
    kind: str
    remaining: int
    seconds: float = 0.0


class FaultBook:
    """Pending faults per endpoint, consumed first-in first-out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def add(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {KINDS}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.setdefault(endpoint, []).append(Fault(kind, count, seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, endpoint: str) -> Fault | None:
        """Consume one use of the first pending fault for ``endpoint`` (or ``any``)."""
        with self._lock:
            for name in (endpoint, "any"):
                queue = self._faults.get(name)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
        return None


def fault_response(fault: Fault, endpoint: str) -> Response | None:
    """The response of a fault, or ``None`` for ``delay`` (answer normally after sleeping)."""
    oauth = endpoint in _OAUTH
    if fault.kind in ("delay", "delay_after"):
        return None
    if fault.kind in ("drop", "drop_after"):
        return Response(0, drop=True)
    if fault.kind == "malformed_json":
        return Response(200, b'{"access_token": "00D', {"Content-Type": "application/json;charset=UTF-8"})
    if fault.kind == "html_error":
        return html_response(
            503,
            "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
            "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your request "
            "due to maintenance downtime or capacity problems.</p></body></html>",
        )
    status = int(fault.kind)
    headers = {"Retry-After": "1"} if status == 429 else {}
    if oauth:
        error = {"429": "rate_limit_exceeded", "500": "unknown_error", "503": "unknown_error"}[fault.kind]
        desc = {"429": "number of logins exceeded", "500": "retry your request", "503": "retry your request"}
        return json_response(status, {"error": error, "error_description": desc[fault.kind]}, headers)
    code = {"429": "REQUEST_LIMIT_EXCEEDED", "500": "UNKNOWN_EXCEPTION", "503": "SERVER_UNAVAILABLE"}[fault.kind]
    message = {
        "429": "TotalRequests Limit exceeded.",
        "500": "An unexpected error occurred. Please include this ErrorId if you contact support.",
        "503": "Server temporarily unavailable.",
    }[fault.kind]
    return json_response(status, [{"message": message, "errorCode": code}], headers)
