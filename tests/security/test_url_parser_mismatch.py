"""A URL that carries a secret is judged by the parser that sends it.

Before the fix ``https://127.0.0.1:8443\\@acme.my.salesforce.com`` passed as a My Domain (``urlsplit`` reads
the host after the ``@``) while urllib3 connected to 127.0.0.1:8443, and ``https://evil.test\\.login...``
went to evil.test. Each test points such a URL at a recording server on 127.0.0.1 and asserts that the user
gets the provider's error naming the field, and that no byte of any secret (indeed no request) reached it.
"""

# ruff: noqa: F811  (the tls fixtures are imported from fake_servers and requested by name)
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from urllib3.util import parse_url

from airflow_provider_sf360.core.credentials import AuthFlow, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import CredentialsInvalidError, SF360Error, UntrustedHostError
from airflow_provider_sf360.core.grants import client_credentials_grant, code_grant, jwt_grant, refresh_grant
from airflow_provider_sf360.core.hosts import url_problem
from airflow_provider_sf360.core.salesforce_session import RenewingSalesforceSession
from airflow_provider_sf360.testing.certs import CertBundle

from .fake_servers import Answer, RecordingServer, always, recording_server, tls, trusted_tls  # noqa: F401
from .secrets_kit import (
    ORG18,
    SETTINGS,
    USER18,
    Secrets,
    client,
    client_credentials_token,
    credentials,
    signed_token_answer,
)

pytestmark = pytest.mark.timeout(60)

# Each template is formatted with the attacker's port; every one of them would, before the fix, have sent the
# request to 127.0.0.1:<port> (or to evil.test) while the check saw a Salesforce host.
HOSTILE_TEMPLATES = (
    "https://127.0.0.1:{port}\\@acme.my.salesforce.com",
    "https://127.0.0.1:{port}\\@acme.my.salesforce.com/",
    "https://127.0.0.1:{port}\\.login.salesforce.com",
    "https://127.0.0.1:{port}\\@login.salesforce.com\\",
    "https://127.0.0.1:{port}@acme.my.salesforce.com",
    "https://acme.my.salesforce.com@127.0.0.1:{port}",
    "https://127.0.0.1:{port}#@acme.my.salesforce.com",
    "https://127.0.0.1:{port}\t@acme.my.salesforce.com",
    "https://127.0.0.1:{port} @acme.my.salesforce.com",
    " https://127.0.0.1:{port}\\@acme.my.salesforce.com",
    "https://127.0.0.1:{port}\r\n@acme.my.salesforce.com",
    "https://127.0.0.1:{port}%5C@acme.my.salesforce.com",
    "https://127.0.0.1:{port}\x00@acme.my.salesforce.com",
    "http://127.0.0.1:{port}",
    "https://127.0.0.1:{port}\uff3c@acme.my.salesforce.com",
)
EVIL_TEST = ("https://evil.test\\.login.salesforce.com", "https://evil.test\\@login.salesforce.com")


@pytest.fixture
def attacker(trusted_tls: CertBundle) -> Iterator[RecordingServer]:
    with recording_server(always(Answer.json({"access_token": "x"})), tls=trusted_tls) as server:
        yield server


def _hostile(attacker: RecordingServer) -> list[str]:
    # the allow-list names 127.0.0.1 (an emulator): only the parser rule stands between these and the attacker
    return [t.format(port=attacker.port) for t in HOSTILE_TEMPLATES]


def test_old_parsers_really_disagree() -> None:
    """The regression is real: urllib3 (what requests connects with) reads another host than urlsplit."""
    from urllib.parse import urlsplit

    url = "https://127.0.0.1:8443\\@acme.my.salesforce.com"
    assert urlsplit(url).hostname == "acme.my.salesforce.com"
    assert (parse_url(url).host, parse_url(url).port) == ("127.0.0.1", 8443)
    assert parse_url(EVIL_TEST[0]).host == "evil.test"


def test_login_url_field_is_refused_naming_the_field(attacker: RecordingServer) -> None:
    for url in [*_hostile(attacker), *EVIL_TEST]:
        with pytest.raises(CredentialsInvalidError) as err:
            credentials_from_connection_fields(
                "sf360_attacked",
                {"org_id": ORG18, "user_id": USER18, "auth_flow": "client_credentials", "login_url": url},
                "3MVGkey",
                "CSsecret",
                SETTINGS,
            )
        assert "Login URL (My Domain)" in str(err.value), url
    assert attacker.request_count() == 0


def _grants(keys: Secrets, jwt_pem: str) -> dict[str, Callable[..., object]]:
    return {
        "client_credentials": lambda c: c.request_token(client_credentials_grant(c.credentials)),
        "jwt_bearer": lambda c: c.request_token(jwt_grant(c.credentials)),
        "refresh_token": lambda c: c.request_token(refresh_grant(c.credentials, keys.refresh_token)),
        "code_exchange": lambda c: c.request_token(
            code_grant(c.credentials, keys.code, keys.verifier, "http://localhost:1717/OauthRedirect")
        ),
        "revoke": lambda c: c.revoke(keys.refresh_token, c.credentials.login_url),
        "introspect": lambda c: c.introspect_active(keys.refresh_token),
        "identity": lambda c: c.identity(keys.access_token, f"{c.credentials.login_url}/id/{ORG18}/{USER18}"),
    }


def test_every_oauth_call_refuses_a_hostile_login_url(attacker: RecordingServer, trusted_tls: CertBundle) -> None:
    """Credentials that skipped validation (or an older stored URL): the client itself refuses before sending."""
    keys = Secrets.new()
    for url in [*_hostile(attacker), *EVIL_TEST]:
        for name, call in _grants(keys, trusted_tls.jwt_key_pem).items():
            oauth = client(credentials(url, keys, AuthFlow.JWT_BEARER, trusted_tls.jwt_key_pem), trusted_tls)
            with pytest.raises(UntrustedHostError) as err:
                call(oauth)
            assert "Refusing to send a token" in str(err.value), (name, url)
            assert not keys.leaked_in(str(err.value).encode())
    assert attacker.request_count() == 0, attacker.all_bytes()[:300]


@pytest.mark.parametrize("field", ["instance_url", "id"])
def test_hostile_urls_in_salesforce_answer_are_refused(
    field: str, attacker: RecordingServer, trusted_tls: CertBundle
) -> None:
    """A token answer naming a hostile instance or identity URL: refused, and the token is never sent there."""
    keys = Secrets.new()
    for hostile in _hostile(attacker):
        value = hostile + (f"/id/{ORG18}/{USER18}" if field == "id" else "")

        def salesforce(_method: str, _path: str, value: str = value) -> Answer:
            return Answer.json(signed_token_answer(server.base_url, keys, **{field: value}))

        with recording_server(salesforce, tls=trusted_tls) as server, pytest.raises(SF360Error) as err:
            client_credentials_token(client(credentials(server.base_url, keys), trusted_tls))
        assert isinstance(err.value, UntrustedHostError), (hostile, err.value)
        assert ("instance URL" if field == "instance_url" else "identity URL") in str(err.value)
    assert attacker.request_count() == 0


class _Tokens:
    def __init__(self, token: str) -> None:
        self.token = token
        self.handed_out = 0

    def current_access_token(self) -> str:
        self.handed_out += 1
        return self.token

    def renewed_access_token(self, stale: str) -> str:
        return self.token


def test_api_session_guard_refuses_before_any_byte(attacker: RecordingServer, trusted_tls: CertBundle) -> None:
    keys = Secrets.new()
    tokens = _Tokens(keys.access_token)
    session = RenewingSalesforceSession(tokens, SETTINGS)
    session.verify = str(trusted_tls.ca_file)
    for url in [*_hostile(attacker), *EVIL_TEST]:
        for path in ("", "/services/data/v64.0/query?q=SELECT+Id+FROM+Account"):
            with pytest.raises(UntrustedHostError) as err:
                session.get(url + path, headers={"X-SFDC-Session": "placeholder"}, timeout=5)
            assert "Salesforce API host" in str(err.value)
    assert tokens.handed_out == 0
    assert attacker.request_count() == 0


def test_api_session_sends_the_rebuilt_url(trusted_tls: CertBundle) -> None:
    """What was checked is what is sent: the request reaches the checked host with a plain path."""
    keys = Secrets.new()
    with recording_server(always(Answer.json({"ok": True})), tls=trusted_tls) as api:
        session = RenewingSalesforceSession(_Tokens(keys.access_token), SETTINGS)
        session.verify = str(trusted_tls.ca_file)
        url = f"https://127.0.0.1:{api.port}/services/data/v64.0/limits"
        assert session.get(url, timeout=5).json() == {"ok": True}
        assert api.all_bytes().startswith(b"GET /services/data/v64.0/limits HTTP/1.1")
        assert f"Bearer {keys.access_token}".encode() in api.all_bytes()


def test_url_problem_messages_name_the_reason() -> None:
    reasons = {
        "https://127.0.0.1:8443\\@acme.my.salesforce.com": "backslash",
        "https://a@acme.my.salesforce.com": "user name or password",
        "http://acme.my.salesforce.com": "must start with https://",
        "https://": "no host name",
        "https://acme.my.salesforce.com#x": "fragment",
        "https://evil.test": "is not a Salesforce login or My Domain host",
        "https://acme.my.site.com": "is not a Salesforce login or My Domain host",
    }
    for url, reason in reasons.items():
        assert reason in (url_problem(url, SETTINGS) or ""), url


def test_requests_still_refuses_what_it_cannot_parse() -> None:
    """Sanity for the property tests: requests' own preparation is what the check compares against."""
    prepared = requests.models.PreparedRequest()
    prepared.prepare_url("https://LOGIN.salesforce.com:443/a b", None)
    assert prepared.url == "https://login.salesforce.com:443/a%20b"


def test_api_paths_with_spaces_or_unicode_still_work(trusted_tls: CertBundle) -> None:
    """Only the host part is held to the strict rule; a path is percent-encoded as requests would."""
    keys = Secrets.new()
    with recording_server(always(Answer.json({"ok": True})), tls=trusted_tls) as api:
        session = RenewingSalesforceSession(_Tokens(keys.access_token), SETTINGS)
        session.verify = str(trusted_tls.ca_file)
        url = f"https://127.0.0.1:{api.port}/services/data/v64.0/sobjects/Account/Ext__c/a b\u00e9\\c"
        assert session.get(url, timeout=5).json() == {"ok": True}
        assert api.all_bytes().startswith(b"GET /services/data/v64.0/sobjects/Account/Ext__c/a%20b%C3%A9%5Cc ")
