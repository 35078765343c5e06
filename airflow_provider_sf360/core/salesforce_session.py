"""A ``requests.Session`` for simple-salesforce that always carries a valid token.

simple-salesforce cannot refresh a token it was given (``session_id`` mode raises
``SalesforceExpiredSession``; salesforce.md section 9), so the session owns the token: before each request
it puts the current token in the headers (renewing it first when near its end); when Salesforce answers
401 ``INVALID_SESSION_ID`` it renews the token once and repeats the request. This covers REST, SOQL,
sobjects and Bulk API 2.0 alike, since they all go through the session. Tokens only go to trusted hosts.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests

from airflow_provider_sf360.core.hosts import ProviderSettings, require_trusted_url

SESSION_HEADERS = ("Authorization", "X-SFDC-Session")


class TokenSource(Protocol):
    """Gives the current access token and replaces one Salesforce refused."""

    def current_access_token(self) -> str: ...
    def renewed_access_token(self, stale: str) -> str: ...


def is_invalid_session(response: requests.Response) -> bool:
    """True for Salesforce's dead-token answer: 401 with ``INVALID_SESSION_ID`` (REST) or ``InvalidSessionId``."""
    if response.status_code != 401:
        return False
    body = response.text or ""
    return "INVALID_SESSION_ID" in body or "InvalidSessionId" in body or not body.strip()


class RenewingSalesforceSession(requests.Session):
    """The ``session`` handed to ``simple_salesforce.Salesforce`` by ``SF360Hook.get_conn()``."""

    def __init__(self, tokens: TokenSource, settings: ProviderSettings) -> None:
        super().__init__()
        self.tokens = tokens
        self.settings = settings
        self.renewals = 0

    def _with_token(self, headers: Any, token: str) -> dict[str, str]:
        merged = dict(headers or {})
        merged["Authorization"] = f"Bearer {token}"
        if "X-SFDC-Session" in merged:  # Bulk API 1.0
            merged["X-SFDC-Session"] = token
        return merged

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        require_trusted_url(target, self.settings, "Salesforce API host")
        token = self.tokens.current_access_token()
        kwargs["headers"] = self._with_token(kwargs.get("headers"), token)
        response = super().request(method, url, *args, **kwargs)
        if not is_invalid_session(response):
            return response
        fresh = self.tokens.renewed_access_token(token)
        self.renewals += 1
        kwargs["headers"] = self._with_token(kwargs.get("headers"), fresh)
        return super().request(method, url, *args, **kwargs)
