"""A loopback HTTP server that receives Salesforce's redirect (like ``sf org login web``), within a deadline."""

from __future__ import annotations

import errno
import hmac
import ipaddress
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

_DONE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Salesforce 360</title>"
    b"<body style='font-family:sans-serif;margin:3em'><h1>Salesforce 360</h1>"
    b"<p>The authorization response reached the <code>sf360</code> command. You can close this tab and go back "
    b"to the terminal.</p></body></html>"
)


_IGNORED_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Salesforce 360</title>"
    b"<body style='font-family:sans-serif;margin:3em'><h1>Salesforce 360</h1>"
    b"<p>This request does not carry the state of the running <code>sf360 setup</code>; it was ignored and the "
    b"command keeps waiting for Salesforce.</p></body></html>"
)
READ_TIMEOUT_SECONDS = 10.0  # one connection may hold its handler thread at most this long (and never the wait)


class LoopbackError(ValueError):
    """The callback URL cannot be served on this machine's loopback interface."""


@dataclass(frozen=True)
class LoopbackAddress:
    """Where a loopback callback URL is served: the addresses its host resolves to, the port and the path."""

    host: str
    port: int
    path: str

    @property
    def bind_addresses(self) -> tuple[str, ...]:
        """``localhost`` is both 127.0.0.1 and ::1 (a browser may use either); an IP literal is itself."""
        if self.host != "localhost":
            return (self.host,)
        found = {"127.0.0.1", "::1"}
        try:
            infos = socket.getaddrinfo("localhost", self.port, type=socket.SOCK_STREAM)
        except OSError:
            infos = []
        for info in infos:
            address = str(info[4][0])
            if ipaddress.ip_address(address.split("%")[0]).is_loopback:
                found.add(address)
        return tuple(sorted(found))


def loopback_address(callback_url: str) -> LoopbackAddress:
    """Host, port and path of a ``http://localhost:<port>/<path>`` callback URL; raises :class:`LoopbackError`."""
    try:
        parts = urlsplit(callback_url)
        plain = parts.scheme == "http" and "@" not in parts.netloc
        host, port = parts.hostname, parts.port
    except ValueError:
        plain, host, port = False, None, None
    if not plain or host not in LOOPBACK_HOSTS or not port:
        raise LoopbackError(
            f"The Callback URL {callback_url!r} is not a loopback URL such as http://localhost:1717/OauthRedirect; "
            "`sf360 setup` can only receive the redirect on this machine. Add such a URL to the Connected App and "
            "to the connection's Callback URL, or use the 'Salesforce 360' page of the Airflow UI."
        )
    return LoopbackAddress(host=str(host), port=port, path=urlsplit(callback_url).path or "/")


class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    timeout = READ_TIMEOUT_SECONDS  # socket timeout: an idle connection is dropped, never waited on forever

    def do_GET(self) -> None:
        receiver = self.server.receiver
        if urlsplit(self.path).path != receiver.address.path:
            self.send_error(404)
            return
        if not receiver.offer(self.path):
            self._page(400, _IGNORED_PAGE)
            return
        self._page(200, _DONE_PAGE)

    def _page(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request line holds the authorization code."""


class _Listener(ThreadingMixIn, HTTPServer):
    """One listening socket (IPv4 or IPv6); each connection gets its own thread with a read timeout."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, bind: str, port: int, receiver: LoopbackServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.receiver = receiver
        super().__init__((bind, port), _Handler, bind_and_activate=False)
        try:
            if self.address_family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            raise


class LoopbackServer:
    """Serves the callback path on every address of the callback host until a request carries ``expected_state``.

    Requests to the callback path without that state (a stray or forged request) are answered 400 and the
    wait goes on; other paths get 404. :meth:`wait` returns at its deadline whatever the clients do.
    """

    def __init__(self, callback_url: str, expected_state: str | None = None) -> None:
        """:param callback_url: the loopback Callback URL (``http://localhost:<port>/<path>``, IPv4 or IPv6).
        :param expected_state: the ``state`` this setup sent; None accepts the first request to the path.
        """
        self.address = loopback_address(callback_url)
        self.callback_url = callback_url
        self.expected_state = expected_state
        self.received: str | None = None
        self._arrived = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[_Listener] = []
        self._serving = False
        try:
            self._listen()
        except OSError:
            self.close()
            raise
        for listener in self._listeners:  # served from now on, so that no request waits for :meth:`wait`
            threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        self._serving = True

    def _listen(self) -> None:
        unavailable: OSError | None = None
        for bind in self.address.bind_addresses:
            try:
                self._listeners.append(_Listener(bind, self.address.port, self))
            except OSError as error:
                if error.errno not in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    raise  # e.g. in use: another process would receive the code on that address
                unavailable = error
        if not self._listeners:
            raise unavailable or OSError(errno.EADDRNOTAVAIL, "no loopback address available")

    def offer(self, request_path: str) -> bool:
        """Keep the first request whose ``state`` is the expected one; False for any other request."""
        states = parse_qs(urlsplit(request_path).query).get("state") or []
        if self.expected_state is not None and not any(
            hmac.compare_digest(s.encode(), self.expected_state.encode()) for s in states
        ):
            return False
        with self._lock:
            if self.received is not None:
                return False
            self.received = request_path
        self._arrived.set()
        return True

    def wait(self, timeout: float) -> str | None:
        """The full callback URL Salesforce redirected to, or None after ``timeout`` seconds."""
        self._arrived.wait(max(timeout, 0.0))
        if self.received is None:
            return None
        parts = urlsplit(self.callback_url)
        return f"{parts.scheme}://{parts.netloc}{self.received}"

    def close(self) -> None:
        """Stop serving and close every socket (a request arriving later is refused by the OS)."""
        for listener in self._listeners:
            if self._serving:
                listener.shutdown()  # waits for serve_forever to stop: only call it once serving started
            listener.server_close()
        self._listeners = []
        self._serving = False

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
