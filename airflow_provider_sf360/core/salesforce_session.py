"""A ``requests.Session`` for simple-salesforce that always carries a valid token.

simple-salesforce cannot refresh a token it was given (``session_id`` mode raises
``SalesforceExpiredSession``; salesforce.md section 9), so the session owns the token: before each request
it puts the current token in the headers (renewing it first when near its end); when Salesforce answers
401 ``INVALID_SESSION_ID`` it renews the token once and repeats the request. This covers REST, SOQL,
sobjects and Bulk API 2.0 alike, since they all go through the session. Tokens only go to trusted hosts.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import requests

from airflow_provider_sf360.core.hosts import ProviderSettings, check_trusted_url, rebuild_trusted_url

SESSION_HEADERS = ("Authorization", "X-SFDC-Session")


def quote_after_authority(url: str) -> str:
    """Percent-encode what follows the host (path and query) as requests would, so that an API path with a space
    or a non-ASCII record key is not refused; the scheme and host part is left as is for the strict check.

    The host part ends at the first ``/``, ``?`` or ``#`` after ``://`` (a backslash does not end it, so a
    backslash before the path stays in the host part and is refused).

    :param url: an API URL built by simple-salesforce or DAG code.
    """
    start = url.find("://")
    if start < 0:
        return url
    ends = [i for i in (url.find(c, start + 3) for c in "/?#") if i >= 0]
    if not ends:
        return url
    cut = min(ends)
    return url[:cut] + quote(url[cut:], safe="/?&=%:@!$'()*+,;~-._")


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
        url = rebuild_trusted_url(quote_after_authority(target), self.settings, "Salesforce API host")
        token = self.tokens.current_access_token()
        kwargs["headers"] = self._with_token(kwargs.get("headers"), token)
        response = super().request(method, url, *args, **kwargs)
        if not is_invalid_session(response):
            return response
        fresh = self.tokens.renewed_access_token(token)
        self.renewals += 1
        kwargs["headers"] = self._with_token(kwargs.get("headers"), fresh)
        return super().request(method, url, *args, **kwargs)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Each redirect hop: refuse a target off the allow-list; drop the token when the host changes.

        requests itself strips only ``Authorization`` across hosts; ``X-SFDC-Session`` (Bulk API 1.0) would
        follow the redirect, so both are removed here whenever scheme, host or port differ.
        """
        target = str(prepared_request.url)
        rebuilt = rebuild_trusted_url(target, self.settings, "host Salesforce redirected to")
        prepared_request.url = rebuilt
        super().rebuild_auth(prepared_request, response)
        origin = check_trusted_url(str(response.request.url), self.settings)
        hop = check_trusted_url(rebuilt, self.settings)
        if (origin.host, origin.port) != (hop.host, hop.port):
            for header in SESSION_HEADERS:
                prepared_request.headers.pop(header, None)
