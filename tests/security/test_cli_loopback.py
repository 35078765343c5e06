"""The CLI's loopback receiver.

Before the fix it bound only 127.0.0.1 (a listener on [::1] received the code and state of a ``localhost``
callback), a ``http://[::1]:port`` callback never worked, one idle TCP connection kept ``--timeout 5`` running
for 25 s, and any local request to the callback path aborted the setup.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_sf360.cli.loopback import LoopbackError, LoopbackServer, loopback_address

pytestmark = pytest.mark.timeout(60)
STATE = "expected-state-value"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def localhost_server(port: int) -> Iterator[LoopbackServer]:
    with LoopbackServer(f"http://localhost:{port}/OauthRedirect", expected_state=STATE) as server:
        yield server


def _get(url: str) -> int:
    return requests.get(url, timeout=5).status_code


@needs_ipv6
def test_localhost_callback_listens_on_both_loopback_addresses(localhost_server: LoopbackServer, port: int) -> None:
    assert set(localhost_server.address.bind_addresses) >= {"127.0.0.1", "::1"}
    assert _get(f"http://[::1]:{port}/OauthRedirect?code=c&state=wrong") == 400  # served by us, not by another
    assert _get(f"http://127.0.0.1:{port}/OauthRedirect?code=c&state=wrong") == 400
    assert _get(f"http://[::1]:{port}/OauthRedirect?code=c6&state={STATE}") == 200
    assert localhost_server.wait(5) == f"http://localhost:{port}/OauthRedirect?code=c6&state={STATE}"


@needs_ipv6
def test_a_squatter_on_ipv6_loopback_stops_the_setup(port: int) -> None:
    """Another local user already listening on [::1]:port would receive the code: refuse to start instead."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::1", port))
        squatter.listen()
        with pytest.raises(OSError):
            LoopbackServer(f"http://localhost:{port}/OauthRedirect", expected_state=STATE)
    # and the IPv4 half it had bound was released
    with LoopbackServer(f"http://localhost:{port}/OauthRedirect", expected_state=STATE):
        pass


@needs_ipv6
def test_ipv6_literal_callback_works(port: int) -> None:
    with LoopbackServer(f"http://[::1]:{port}/cb", expected_state=STATE) as server:
        assert server.address.bind_addresses == ("::1",)
        assert _get(f"http://[::1]:{port}/cb?code=c&state={STATE}") == 200
        assert server.wait(5) == f"http://[::1]:{port}/cb?code=c&state={STATE}"


@pytest.mark.slow  # waits out the timeout
def test_idle_connections_do_not_hold_the_wait(localhost_server: LoopbackServer, port: int) -> None:
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        started = time.monotonic()
        assert localhost_server.wait(1.5) is None
        assert time.monotonic() - started < 2.5
    finally:
        for sock in idle:
            sock.close()


def test_idle_connection_does_not_block_the_real_redirect(localhost_server: LoopbackServer, port: int) -> None:
    idle = socket.create_connection(("127.0.0.1", port))
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"GET /OauthRedirect?state=")  # a request line that never ends
    try:
        threading.Timer(0.3, lambda: _get(f"http://127.0.0.1:{port}/OauthRedirect?code=c&state={STATE}")).start()
        started = time.monotonic()
        assert localhost_server.wait(10) is not None
        assert time.monotonic() - started < 3
    finally:
        idle.close()
        half.close()


def test_stray_requests_are_answered_400_and_the_wait_goes_on(localhost_server: LoopbackServer, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/OauthRedirect") == 400
    assert _get(f"{base}/OauthRedirect?code=evil&state=forged") == 400
    assert _get(f"{base}/OauthRedirect?error=access_denied") == 400
    assert _get(f"{base}/favicon.ico") == 404
    assert localhost_server.wait(0.2) is None  # still waiting, nothing accepted
    assert _get(f"{base}/OauthRedirect?error=access_denied&state={STATE}") == 200  # a Deny carries the state
    assert localhost_server.wait(1) == f"http://localhost:{port}/OauthRedirect?error=access_denied&state={STATE}"
    assert _get(f"{base}/OauthRedirect?code=late&state={STATE}") == 400  # only the first one counts


def test_non_loopback_callbacks_are_refused() -> None:
    for url in ("https://localhost:1717/cb", "http://evil.test:1717/cb", "http://localhost/cb",
                "http://user@localhost:1717/cb", "http://localhost:99999/cb", "http://[::2]:1717/cb"):
        with pytest.raises(LoopbackError):
            loopback_address(url)


@pytest.fixture
def cli_connection(airflow_db: object, port: int) -> Iterator[str]:
    """An authorization_code connection whose callback is this test's loopback port (no Salesforce needed)."""
    import json

    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    conn_id = "sf360_security_loopback"
    extra = {"org_id": "00D5e000000AbCdEAK", "user_id": "0055e000001XyZaAAK", "auth_flow": "authorization_code",
             "login_url": "https://127.0.0.1:9", "callback_url": f"http://localhost:{port}/OauthRedirect"}
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
        session.add(Connection(conn_id=conn_id, conn_type="sf360", login="3MVGkey", extra=json.dumps(extra)))
    yield conn_id
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))


@pytest.mark.slow  # waits out the timeout
def test_cli_timeout_holds_with_an_idle_connection_and_a_stray_request(
    cli_connection: str, port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sf360 setup --timeout 2`: an idle TCP connection and a stray request neither abort nor extend it."""
    from airflow_provider_sf360.cli.main import main

    sockets: list[socket.socket] = []
    statuses: list[int] = []

    def bother(url: str) -> bool:
        sockets.append(socket.create_connection(("127.0.0.1", port)))  # idle: never sends a byte
        statuses.append(_get(f"http://127.0.0.1:{port}/OauthRedirect?code=stray&state=forged"))
        return True

    monkeypatch.setattr("webbrowser.open", bother)
    started = time.monotonic()
    try:
        assert main(["setup", cli_connection, "--timeout", "2"]) == 1
    finally:
        for sock in sockets:
            sock.close()
    assert time.monotonic() - started < 6
    assert statuses == [400]
    assert "No answer from Salesforce within 2 s" in capsys.readouterr().err
