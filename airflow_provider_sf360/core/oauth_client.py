"""Salesforce's OAuth protocol for one connection, one method per request: the token grants (one path for
all four), the authorize URL, introspection, identity, one REST call, revocation.

Every URL that receives a secret passes the allow-list first (``core/hosts.py``); no redirect is followed
(``core/http.py``); transient failures are retried with bounded backoff (``core/retry.py``); a request that
consumes a refresh token or a code is never re-sent after a lost answer (:class:`GrantOutcomeUnknown`); answers
are read by ``core/answers.py`` and errors by ``core/oauth_errors.py``. Nothing here stores anything.
Facts: ``salesforce.md`` sections 2-5 and 13. Pure module, no Airflow import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests
from oauthlib.oauth2 import WebApplicationClient

from airflow_provider_sf360.core.answers import token_answer_problem, token_response
from airflow_provider_sf360.core.credentials import SF360Credentials
from airflow_provider_sf360.core.errors import (
    IdentityMismatchError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.grants import GrantRequest
from airflow_provider_sf360.core.hosts import ProviderSettings, require_trusted_url
from airflow_provider_sf360.core.http import GrantOutcomeUnknown, json_body, new_session, send_once, short
from airflow_provider_sf360.core.oauth_errors import error_for
from airflow_provider_sf360.core.retry import RetryPolicy, TransientFailureError
from airflow_provider_sf360.core.token_state import TokenResponse, identity_from_url

WEB_FLOW_SCOPES = ("api", "refresh_token")
PKCE_METHOD = "S256"
PKCE_VERIFIER_LENGTH = 64  # RFC 7636 allows 43 to 128 characters

MaskFn = Callable[[str], None]


class SalesforceOAuthClient:
    """The HTTP side of one connection's OAuth.

    :param credentials: the connection's validated credentials.
    :param settings: the ``[sf360]`` options the core needs (allowed hosts).
    :param retry: how transient failures are retried.
    :param timeout: seconds to wait for one answer.
    :param refresh_timeout: seconds to wait for the answer to a request that consumes a refresh token or a code.
    :param mask: registers a secret with the log masker (every token received is masked at once).
    """

    def __init__(
        self,
        credentials: SF360Credentials,
        settings: ProviderSettings,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        refresh_timeout: float = 120.0,
        mask: MaskFn = lambda _secret: None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # Giving up on a consuming request does not stop Salesforce from processing it, and its answer carries
        # the only copy of the rotated refresh token: it is waited for longer.
        self.consuming_timeout = (timeout, max(timeout, refresh_timeout))
        self.mask = mask
        self.http = new_session()

    def _trusted(self, url: str, what: str) -> str:
        return require_trusted_url(url, self.settings, what)

    # ---------------------------------------------------------------- token grants
    def request_token(self, request: GrantRequest) -> TokenResponse:
        """Post a grant and read its answer: the one way the provider asks Salesforce for a token.

        A grant that consumes something is posted on a fresh connection, waited for up to ``refresh_timeout``,
        retried only when it provably never reached Salesforce (no connection, 5xx, 429), and raises
        :class:`GrantOutcomeUnknown` when its answer is lost or unreadable.

        :param request: the grant (``core/grants.py``).
        """
        url = self._trusted(request.token_url, "token endpoint")
        consuming = request.grant.consumes

        def attempt() -> TokenResponse:
            if consuming:
                with new_session() as fresh:  # never a pooled connection the server may have closed
                    response = self._post_grant(fresh, url, request, self.consuming_timeout)
            else:
                response = self._post_grant(self.http, url, request, self.timeout)
            return self._read_token_answer(response, request)

        return self.retry.run(request.what, attempt)

    def _post_grant(
        self, session: requests.Session, url: str, request: GrantRequest, timeout: float | tuple[float, float]
    ) -> requests.Response:
        session.verify = self.http.verify
        return send_once(
            request.what,
            lambda: session.post(url, data=request.form, headers={"Accept": "application/json"}, timeout=timeout),
            consuming=request.grant.consumes,
        )

    def _read_token_answer(self, response: requests.Response, request: GrantRequest) -> TokenResponse:
        consuming = request.grant.consumes
        try:
            data = json_body(response)
        except ValueError:
            if consuming and response.status_code == 200:
                raise GrantOutcomeUnknown("HTTP 200 with an answer that is not JSON") from None
            raise TransientFailureError(
                f"HTTP {response.status_code} from {request.what} with a body that is not JSON: "
                f"{short(response.text, 80)!r}"
            ) from None
        self._mask_tokens(data)
        if isinstance(data, dict) and "error" in data and "access_token" not in data:
            raise self._error(data, request)
        if response.status_code != 200:
            raise TransientFailureError(f"HTTP {response.status_code} from {request.what} without a token")
        received_at = time.time()
        problem = token_answer_problem(data, received_at)
        if problem:
            if consuming:
                raise GrantOutcomeUnknown(f"HTTP 200 with an answer that could not be read ({problem})")
            raise SalesforceRequestError(
                f"The answer of {request.what} is malformed: {problem}. Nothing was stored. If it repeats, check "
                "that the Login URL points at Salesforce and that the Consumer Secret is the app's."
            )
        return self._trusted_token(
            token_response(data, request.grant, consumer_secret=self.credentials.consumer_secret,
                           received_at=received_at)
        )

    def _mask_tokens(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        for name in ("access_token", "refresh_token"):
            if isinstance(data.get(name), str) and data[name]:
                self.mask(data[name])

    def _error(self, data: dict[str, Any], request: GrantRequest) -> SF360Error:
        error = error_for(
            short(str(data["error"]), 80), short(str(data.get("error_description") or ""), 300), request.grant,
            is_sandbox=self.credentials.is_sandbox, secret_sent=bool(request.form.get("client_secret")),
        )
        if isinstance(error, SalesforceUnreachableError):
            raise TransientFailureError(str(error))
        return error

    def _trusted_token(self, token: TokenResponse) -> TokenResponse:
        """The token with its instance and identity URLs checked against the allow-list (they receive it)."""
        return replace(
            token,
            instance_url=self._trusted(token.instance_url, "instance URL Salesforce returned"),
            identity_url=self._trusted(token.identity_url, "identity URL Salesforce returned"),
        )

    # ---------------------------------------------------------------- the web server flow's first half
    def authorization_request(self, redirect_uri: str, state: str) -> tuple[str, str]:
        """The authorize URL (PKCE S256, oauthlib) and the code verifier to keep server-side.

        :param redirect_uri: the Callback URL Salesforce redirects the browser to (must be one of the app's).
        :param state: the signed, single-use state echoed back by Salesforce.
        :return: the authorize URL and the PKCE code verifier (a secret: keep it server-side).
        """
        client = WebApplicationClient(self.credentials.consumer_key)
        verifier = client.create_code_verifier(PKCE_VERIFIER_LENGTH)
        self.mask(verifier)
        extra: dict[str, str] = {"prompt": "login consent"}
        if self.credentials.username:
            extra["login_hint"] = self.credentials.username
        url = client.prepare_request_uri(
            self._trusted(self.credentials.authorize_url, "authorize endpoint"),
            redirect_uri=redirect_uri,
            scope=list(WEB_FLOW_SCOPES),
            state=state,
            code_challenge=client.create_code_challenge(verifier, PKCE_METHOD),
            code_challenge_method=PKCE_METHOD,
            **extra,
        )
        return url, verifier

    # ---------------------------------------------------------------- diagnosis probes (no secret is sent)
    def probe(self, path: str, params: dict[str, str] | None = None) -> tuple[int, str | None, str]:
        """GET a path of the login host once, following no redirect: HTTP status, ``Date`` header, body start.

        :param path: e.g. ``/.well-known/openid-configuration``.
        :param params: query parameters (never a secret).
        :raises SalesforceUnreachableError: no answer.
        """
        url = self._trusted(f"{self.credentials.login_url}{path}", "login host")
        try:
            response = self.http.get(url, params=params, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise SalesforceUnreachableError(f"{type(exc).__name__} reaching {self.credentials.login_url}") from None
        return response.status_code, response.headers.get("Date"), response.text[:4000]

    # ---------------------------------------------------------------- identity, introspection, revocation
    def check_identity(self, token: TokenResponse) -> tuple[str, str]:
        """The token's (org, user), or raise :class:`IdentityMismatchError` when they are not the connection's.

        :param token: a token answer.
        """
        creds = self.credentials
        found = identity_from_url(token.identity_url)
        if found is None:
            raise SalesforceRequestError(
                f"Salesforce returned an identity URL without org and user IDs: {token.identity_url!r}."
            )
        org_id, user_id = found
        if (org_id, user_id) == (creds.org_id, creds.user_id):
            return found
        if org_id != creds.org_id:
            cause = (
                "Likely causes: the 'Use salesforce.com Sandbox' box or Login URL points at another org, the "
                "sandbox was refreshed (it then has a new Org ID), or the wrong Org ID was entered."
            )
        else:
            cause = "Likely cause: another Salesforce user signed in; sign in as the user the connection names."
        raise IdentityMismatchError(
            f"The token belongs to org {org_id} / user {user_id}, but connection {creds.conn_id!r} expects "
            f"org {creds.org_id} / user {creds.user_id}. {cause} Nothing was stored."
        )

    def _introspect(self, token: str, hint: str) -> dict[str, Any] | None:
        """Introspection answer, or None when it cannot be had (no consumer secret, or no answer)."""
        secret = self.credentials.consumer_secret
        if not secret:
            return None
        url = self._trusted(f"{self.credentials.login_url}/services/oauth2/introspect", "introspection endpoint")
        form = {"token": token, "token_type_hint": hint, "client_id": self.credentials.consumer_key,
                "client_secret": secret}

        def attempt() -> dict[str, Any] | None:
            response = send_once("token introspection", lambda: self.http.post(url, data=form, timeout=self.timeout))
            data = self._json_or_retry(response, "token introspection")
            return data if response.status_code == 200 and isinstance(data, dict) else None

        try:
            return self.retry.run("token introspection", attempt)
        except SalesforceUnreachableError:
            return None  # introspection only refines what we know

    def introspect_expiry(self, access_token: str) -> float | None:
        """The access token's real expiry (epoch seconds); Salesforce's token answer has no ``expires_in``.

        :param access_token: the token to look up (needs the Consumer Secret).
        """
        data = self._introspect(access_token, "access_token")
        exp = data.get("exp") if data and data.get("active") else None
        return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None

    def introspect_active(self, token: str, hint: str = "refresh_token") -> bool | None:
        """Whether Salesforce still accepts a token, without using it; None when it cannot tell.

        :param token: the token to look up (needs the Consumer Secret).
        :param hint: ``refresh_token`` or ``access_token``.
        """
        data = self._introspect(token, hint)
        return None if data is None else data.get("active") is True

    def identity(self, access_token: str, identity_url: str) -> dict[str, Any]:
        """GET the identity URL with the token: username, org and user IDs, ``active``.

        :param access_token: the token.
        :param identity_url: the ``id`` of its token answer.
        """
        return self._authorized_get(self._trusted(identity_url, "identity URL"), access_token, "the identity URL")

    def rest_limits(self, access_token: str, instance_url: str) -> dict[str, Any]:
        """One REST call (``/limits``) proving the token works for the connection's API version.

        :param access_token: the token.
        :param instance_url: the org's instance URL.
        """
        url = f"{self._trusted(instance_url, 'instance URL')}/services/data/v{self.credentials.api_version}/limits"
        return self._authorized_get(url, access_token, "the REST API")

    def _json_or_retry(self, response: requests.Response, what: str) -> Any:
        try:
            return json_body(response)
        except ValueError:
            raise TransientFailureError(
                f"HTTP {response.status_code} from {what} with a body that is not JSON: {short(response.text, 80)!r}"
            ) from None

    def _authorized_get(self, url: str, access_token: str, what: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

        def attempt() -> dict[str, Any]:
            response = send_once(what, lambda: self.http.get(url, headers=headers, timeout=self.timeout))
            if response.status_code in (401, 403):  # JSON array (REST) or plain text (Bad_OAuth_Token on /id)
                raise TokenRevokedError(
                    f"Salesforce refused the access token at {what} (HTTP {response.status_code}: "
                    f"{short(response.text, 120)})."
                )
            data = self._json_or_retry(response, what)
            if response.status_code != 200 or not isinstance(data, dict):
                raise SalesforceRequestError(f"HTTP {response.status_code} from {what}: {short(json.dumps(data))}.")
            return data

        return self.retry.run(what, attempt)

    def revoke(self, token: str, base_url: str) -> bool:
        """Revoke a token (a refresh token also kills its access tokens). False if it was already dead.

        :param token: an access or refresh token.
        :param base_url: the instance (or login) URL that issued it.
        """
        return revoke_token(token, base_url, self.settings, http=self.http, retry=self.retry, timeout=self.timeout)

    def close(self) -> None:
        """Close the pooled connections."""
        self.http.close()


def revoke_token(
    token: str,
    base_url: str,
    settings: ProviderSettings,
    *,
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
) -> bool:
    """Revoke a token at Salesforce (``salesforce.md`` section 4); also for token state no connection owns.

    :param token: an access or refresh token (a refresh token also kills its access tokens).
    :param base_url: the instance (or login) URL that issued it; must pass the allow-list.
    :param settings: the ``[sf360]`` options (allowed hosts).
    :param http: the session to use (default: a new one that follows no redirect).
    :param retry: how transient failures are retried.
    :param timeout: seconds to wait for the answer.
    :return: True when revoked, False when Salesforce says it was already dead.
    """
    url = require_trusted_url(f"{base_url}/services/oauth2/revoke", settings, "revoke endpoint")
    session = http or new_session()

    def attempt() -> bool:
        response = send_once("token revocation", lambda: session.post(url, data={"token": token}, timeout=timeout))
        if response.status_code == 200:
            return True
        if response.status_code == 400:
            return False  # invalid_token / unsupported_token_type: nothing left to revoke
        raise SalesforceRequestError(f"HTTP {response.status_code} from token revocation.")

    return (retry or RetryPolicy()).run("token revocation", attempt)
