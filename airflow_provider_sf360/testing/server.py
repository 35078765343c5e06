"""HTTPS plumbing: one ``ThreadingHTTPServer`` (wrapped with ``ssl``) per emulated host.

Hosts (salesforce.md section 1): the production login host (``login_url``), the sandbox login host
(``test_url``) and one My Domain host per org, which is also that org's instance host. On one
loopback address each host is its own port.
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_sf360.testing.messages import Request, Response
from airflow_provider_sf360.testing.records import Host

MAX_BODY = 200 * 1024 * 1024
#: Answers one request (the emulator's ``dispatch``).
Dispatch = Callable[[Request], Response]
#: The emulated Salesforce's clock, epoch seconds (``World.now``: wall clock plus ``advance_clock``).
Clock = Callable[[], float]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sf360-salesforce-emulator"
    sys_version = ""
    timeout = 60
    server: HostServer

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()  # TLS handshake in the worker thread, not in accept()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines may carry codes or tokens; see ``request_log()`` instead."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header of every answer (RFC 9110 section 6.6.1: an origin server with a clock sends one)
        on the emulator's clock, so that ``advance_clock`` shows as clock skew to a client that compares it."""
        return email.utils.formatdate(self.server.clock() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            host=self.server.host,
            base_url=self.server.base_url,
            client_ip=str(self.client_address[0]),
        )
        resp = self.server.dispatch(req)
        self._send(resp)

    def _send(self, resp: Response) -> None:
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        # Headers and body in one write: separate small writes meet delayed ACKs (40 ms stalls).
        buffer: list[bytes] = getattr(self, "_headers_buffer", [])
        buffer.append(b"\r\n")
        if self.command != "HEAD" and resp.body:
            buffer.append(resp.body)
        self.wfile.write(b"".join(buffer))
        buffer.clear()


class HostServer(ThreadingHTTPServer):
    """The server of one emulated host; tracks open connections so ``close`` ends them all.

    :param dispatch: answers each request.
    :param clock: the time of the ``Date`` header.
    :param host: the emulated host it serves.
    :param port: 0 for any free port.
    :param context: the TLS server context.
    """

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, dispatch: Dispatch, clock: Clock, host: Host, port: int, context: ssl.SSLContext) -> None:
        self.dispatch = dispatch
        self.clock = clock
        self.host = host
        self.context = context
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)
        self.base_url = f"https://127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sf360-emulator-{host.key}", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: clients that hang up (or fail TLS) are normal in tests."""

    def close(self) -> None:
        """Stop serving, end open keep-alive connections and join worker threads."""
        self.shutdown()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()
        self.thread.join(timeout=5)
