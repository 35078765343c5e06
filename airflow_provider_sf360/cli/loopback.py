"""A one-shot HTTP server on 127.0.0.1 that receives Salesforce's redirect (like ``sf org login web``)."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

_DONE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Salesforce 360</title>"
    b"<body style='font-family:sans-serif;margin:3em'><h1>Salesforce 360</h1>"
    b"<p>The authorization response reached the <code>sf360</code> command. You can close this tab and go back "
    b"to the terminal.</p></body></html>"
)


class LoopbackError(ValueError):
    """The callback URL cannot be served on this machine's loopback interface."""


def loopback_address(callback_url: str) -> tuple[int, str]:
    """Port and path of a ``http://localhost:<port>/<path>`` callback URL; raises :class:`LoopbackError`."""
    parts = urlsplit(callback_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or not parts.port:
        raise LoopbackError(
            f"The Callback URL {callback_url!r} is not a loopback URL such as http://localhost:1717/OauthRedirect; "
            "`sf360 setup` can only receive the redirect on this machine. Add such a URL to the Connected App and "
            "to the connection's Callback URL, or use the 'Salesforce 360' page of the Airflow UI."
        )
    return parts.port, parts.path or "/"


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_GET(self) -> None:
        if urlsplit(self.path).path != self.server.expected_path or self.server.received is not None:
            self.send_error(404)
            return
        self.server.received = self.path
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_DONE_PAGE)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(_DONE_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request line holds the authorization code."""


class LoopbackServer(HTTPServer):
    """Serves the callback path once; every other path gets 404."""

    allow_reuse_address = True

    def __init__(self, callback_url: str) -> None:
        port, self.expected_path = loopback_address(callback_url)
        self.callback_url = callback_url
        self.received: str | None = None
        super().__init__(("127.0.0.1", port), _Handler)
        self.timeout = 0.5

    def wait(self, timeout: float) -> str | None:
        """The full callback URL Salesforce redirected to, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.received is None and time.monotonic() < deadline:
            self.handle_request()
        if self.received is None:
            return None
        parts = urlsplit(self.callback_url)
        return f"{parts.scheme}://{parts.netloc}{self.received}"
