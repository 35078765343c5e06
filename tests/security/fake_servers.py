"""Recording HTTP(S) servers on 127.0.0.1 for the security tests (a stand-in attacker and a stand-in Salesforce).

Each server keeps the raw bytes of every request it received, so a test can assert that no byte of a secret
reached it. TLS uses the emulator's throwaway CA (``airflow_provider_sf360.testing.certs``). Stdlib only.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.testing.certs import CertBundle, generate


@dataclass(frozen=True)
class Answer:
    """What a fake server answers: status, headers and body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Answer:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(data).encode())

    @classmethod
    def raw_json(cls, text: str | bytes, status: int = 200) -> Answer:
        body = text.encode() if isinstance(text, str) else text
        return cls(status, {"Content-Type": "application/json"}, body)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Answer:
        return cls(status, {"Location": location}, b"")


Responder = Callable[[str, str], Answer]  # (method, path) -> answer


class RecordingServer(ThreadingHTTPServer):
    """Answers every request with ``responder`` and records each request's raw bytes."""

    daemon_threads = True

    def __init__(self, responder: Responder, tls: CertBundle | None) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.responder = responder
        self.received: list[bytes] = []
        self.lock = threading.Lock()
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.server_cert_file, tls.server_key_file)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls else "http"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def all_bytes(self) -> bytes:
        with self.lock:
            return b"".join(self.received)

    def request_count(self) -> int:
        with self.lock:
            return len(self.received)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer
    timeout = 10

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw = f"{self.requestline}\r\n{self.headers}".encode() + b"\r\n" + body
        with self.server.lock:
            self.server.received.append(raw)
        answer = self.server.responder(self.command, self.path)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


@contextmanager
def recording_server(responder: Responder, tls: CertBundle | None = None) -> Iterator[RecordingServer]:
    """A started :class:`RecordingServer` (https when ``tls`` is given), stopped on exit."""
    server = RecordingServer(responder, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def tls_material(directory: Path) -> CertBundle:
    """Throwaway CA and a server certificate for 127.0.0.1/localhost."""
    return generate(directory)


def always(answer: Answer) -> Responder:
    return lambda _method, _path: answer


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> CertBundle:
    """Throwaway TLS material for the session (import this fixture into a test module to use it)."""
    return tls_material(tmp_path_factory.mktemp("sf360_security_tls"))


@pytest.fixture
def trusted_tls(tls: CertBundle, monkeypatch: pytest.MonkeyPatch) -> CertBundle:
    """The session's TLS material, trusted by requests (``REQUESTS_CA_BUNDLE`` wins over ``Session.verify``)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_file))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return tls
