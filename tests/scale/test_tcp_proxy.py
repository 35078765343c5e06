"""The delaying TCP proxy of the Celery run (scale/tcp_proxy.py): per-request delay, counters, bounds, self-stop.

Fast and without PostgreSQL: a loopback HTTP server stands for the api-server.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scale.tcp_proxy import TcpDelayProxy

pytestmark = pytest.mark.scale


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = self.path.encode() + b"|" + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> tuple[float, bytes]:
    started = time.monotonic()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse().read()
    return time.monotonic() - started, answer


def test_each_request_on_a_kept_alive_connection_is_delayed_once_and_counted(backend: int) -> None:
    with TcpDelayProxy(backend, delay=0.3) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        took, answer = _timed(conn, "POST", "/sf360/api/renew", b'{"proof": "x"}')
        assert answer == b'/sf360/api/renew|{"proof": "x"}'
        assert 0.3 <= took < 0.9  # once per request, not once per chunk
        proxy.set_delay(0.6)
        took, answer = _timed(conn, "GET", "/execution/health")
        assert answer == b"/execution/health|"
        assert 0.6 <= took < 1.2
        proxy.set_delay(0)
        took, _ = _timed(conn, "GET", "/fast")
        assert took < 0.3
        conn.close()
        stats = proxy.snapshot()
    assert stats.requests == 3
    assert stats.renew_requests == 1
    assert stats.requests_by_delay == {0.3: 1, 0.6: 1, 0.0: 1}
    assert stats.connections == 1


def test_connections_past_the_bound_are_refused(backend: int) -> None:
    with TcpDelayProxy(backend, max_connections=1) as proxy:
        first = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        _timed(first, "GET", "/one")
        second = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        with pytest.raises((http.client.HTTPException, OSError)):
            _timed(second, "GET", "/two")
        first.close()
        assert proxy.snapshot().refused == 1


def test_the_delay_is_capped_and_the_proxy_stops_by_itself(backend: int) -> None:
    proxy = TcpDelayProxy(backend, delay=10_000, lifetime=0.5).start()
    assert proxy.delay == 30.0
    port = proxy.port
    time.sleep(1.0)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    proxy.stop()  # harmless after the self-stop
