"""Shared pieces of the security tests: recognisable secrets, credentials built without validation, clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials
from airflow_provider_sf360.core.grants import client_credentials_grant
from airflow_provider_sf360.core.hosts import ProviderSettings
from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient
from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.core.token_state import TokenResponse
from airflow_provider_sf360.testing.certs import CertBundle

ORG18, USER18 = "00D5e000000AbCdEAK", "0055e000001XyZaAAK"
# 127.0.0.1 stands for "a host the admin allowed" (an emulator); the attacker's servers listen there too, on
# other ports, so every test also shows that the allow-list alone does not make a hostile URL safe.
SETTINGS = ProviderSettings.from_options("127.0.0.1")


@dataclass(frozen=True)
class Secrets:
    """One set of unique secrets; :meth:`leaked_in` says which of them appear in some bytes."""

    consumer_secret: str
    refresh_token: str
    access_token: str
    code: str
    verifier: str

    @classmethod
    def new(cls) -> Secrets:
        return cls(
            consumer_secret="CS" + secrets.token_hex(16),
            refresh_token="5Aep" + secrets.token_hex(16),
            access_token="00D5e000000AbCd!AQ" + secrets.token_hex(16),
            code="aPrx" + secrets.token_hex(16),
            verifier="pkce" + secrets.token_hex(20),
        )

    def all(self) -> tuple[str, ...]:
        return (self.consumer_secret, self.refresh_token, self.access_token, self.code, self.verifier)

    def leaked_in(self, data: bytes) -> list[str]:
        return [s for s in self.all() if s.encode() in data or s[4:20].encode() in data]


def credentials(
    login_url: str,
    keys: Secrets,
    flow: AuthFlow = AuthFlow.CLIENT_CREDENTIALS,
    jwt_key_pem: str | None = None,
) -> SF360Credentials:
    """Credentials as the core would hold them, built directly so that a hostile Login URL reaches the client."""
    return SF360Credentials(
        conn_id="sf360_attacked",
        org_id=ORG18,
        user_id=USER18,
        is_sandbox=False,
        auth_flow=flow,
        consumer_key="3MVGconsumerkey",
        login_url=login_url,
        username="sync@acme.example",
        consumer_secret=keys.consumer_secret,
        private_key=jwt_key_pem,
        refresh_token=keys.refresh_token,
        callback_url="http://localhost:1717/OauthRedirect",
    )


def client(creds: SF360Credentials, tls: CertBundle, masked: list[str] | None = None) -> SalesforceOAuthClient:
    """A real client that trusts the test CA and tries each request once."""
    sink = masked if masked is not None else []
    oauth = SalesforceOAuthClient(
        creds, SETTINGS, retry=RetryPolicy(attempts=1, sleep=lambda _s: None), timeout=5, mask=sink.append
    )
    oauth.http.verify = str(tls.ca_file)
    return oauth


def signed_token_answer(base_url: str, keys: Secrets, **overrides: Any) -> dict[str, Any]:
    """A well-formed Salesforce token answer from ``base_url``, signed with the consumer secret."""
    issued_at = str(int(time.time() * 1000))
    identity = f"{base_url}/id/{ORG18}/{USER18}"
    data: dict[str, Any] = {
        "access_token": keys.access_token,
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "scope": "api refresh_token",
    }
    data.update(overrides)
    if "signature" not in overrides and isinstance(data.get("id"), str):
        signed = (data["id"] + str(data.get("issued_at"))).encode()
        mac = hmac.new(keys.consumer_secret.encode(), signed, hashlib.sha256)
        data["signature"] = base64.b64encode(mac.digest()).decode()
    return data


def client_credentials_token(oauth: SalesforceOAuthClient) -> TokenResponse:
    """A client credentials grant through the provider's one grant path."""
    return oauth.request_token(client_credentials_grant(oauth.credentials))
