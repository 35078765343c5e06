"""Salesforce's OAuth protocol, one method per request: token grants, introspect, identity, revoke.

Pure module (no Airflow import). Every answer is classified into the provider's errors; transient
failures (network, 5xx, 429, garbled bodies) are retried with bounded backoff by :class:`RetryPolicy`.
``requests_oauthlib`` is used for the web server and refresh flows and imported only when needed.
Facts: ``../shared/docs/salesforce.md`` sections 2-5 and 10.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials
from airflow_provider_sf360.core.errors import (
    ClientRejectedError,
    IdentityMismatchError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    TokenRevokedError,
)
from airflow_provider_sf360.core.hosts import ProviderSettings, require_trusted_url
from airflow_provider_sf360.core.retry import RetryPolicy, TransientFailureError
from airflow_provider_sf360.core.token_state import TokenResponse

if TYPE_CHECKING:
    from requests_oauthlib import OAuth2Session

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce wants exp a few minutes ahead (simple-salesforce uses 3 min)
WEB_FLOW_SCOPES = ("api", "refresh_token")
_CHATTY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3")

MaskFn = Callable[[str], None]


@contextmanager
def _quiet_oauth_debug_logs() -> Iterator[None]:
    """requests-oauthlib logs token bodies at DEBUG; keep them out of task logs whatever the log level."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def signature_is_valid(token: dict[str, Any], client_secret: str) -> bool:
    """Check Salesforce's ``signature``: Base64 HMAC-SHA256 of ``id + issued_at`` keyed with the secret."""
    mac = hmac.new(client_secret.encode(), (token["id"] + str(token["issued_at"])).encode(), hashlib.sha256)
    return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), str(token.get("signature", "")))


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def classify_oauth_error(error: str, description: str, flow: AuthFlow) -> Exception:
    """Map a token-endpoint ``error``/``error_description`` pair to the provider error a user can act on."""
    said = f"Salesforce answered {error}: {description or 'no description'}"
    if error == "invalid_grant":
        lowered = description.lower()
        if "approved" in lowered:
            return ClientRejectedError(
                f"{said}. Pre-authorize the user for the Connected App (Manage > Edit Policies > "
                "'Admin approved users are pre-authorized', then add the user's profile or permission set)."
            )
        if "audience" in lowered:
            return ClientRejectedError(
                f"{said}. The JWT audience must match the login host: check the sandbox box and Login URL."
            )
        if "authentication failure" in lowered:
            return TokenRevokedError(
                f"{said}. The Salesforce user was deactivated, locked or changed their password; "
                "check the user, then set up the OAuth token again."
            )
        if flow in (AuthFlow.CLIENT_CREDENTIALS,):
            return ClientRejectedError(f"{said}. Check the Connected App's client credentials run-as user.")
        return TokenRevokedError(
            f"{said}. The token was revoked or expired (an admin revoked it, the refresh token policy "
            "expired it, a sixth approval evicted it, or the sandbox was refreshed): set up the OAuth token again."
        )
    if error in ("invalid_client", "invalid_client_id", "invalid_client_credentials", "unauthorized_client"):
        return ClientRejectedError(
            f"{said}. Check the Consumer Key and Consumer Secret against the Connected App "
            "(and, for jwt_bearer, the uploaded certificate)."
        )
    if error in ("inactive_user", "inactive_org"):
        return TokenRevokedError(f"{said}. Reactivate the user or org in Salesforce, then set up again.")
    if error == "rate_limit_exceeded":
        return SalesforceUnreachableError(f"{said}. Too many logins for this user; wait and retry.")
    return SalesforceRequestError(f"{said}.")


class SalesforceOAuthClient:
    """The HTTP side of one connection's OAuth: it never stores anything."""

    def __init__(
        self,
        credentials: SF360Credentials,
        settings: ProviderSettings,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        mask: MaskFn = lambda _secret: None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.mask = mask
        self.http = requests.Session()

    # ---------------------------------------------------------------- requests and their answers
    def _trusted(self, url: str, what: str) -> str:
        return require_trusted_url(url, self.settings, what)

    def _send(self, what: str, send: Callable[[], requests.Response]) -> requests.Response:
        """One attempt: network failures, 5xx and 429 become :class:`TransientFailureError`."""
        try:
            response = send()
        except requests.exceptions.SSLError as exc:
            raise SalesforceUnreachableError(
                f"TLS verification failed for {what}: {_short(str(exc))}. Check the host name and CA bundle "
                "(REQUESTS_CA_BUNDLE)."
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientFailureError(f"{type(exc).__name__} during {what}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailureError(f"HTTP {response.status_code} from {what}", _retry_after(response))
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TransientFailureError(
                f"HTTP {response.status_code} from {what} with a body that is not JSON: "
                f"{_short(response.text, 80)!r}"
            ) from None

    def _token_answer(self, response: requests.Response, what: str) -> dict[str, Any]:
        data = self._json(response, what)
        if response.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
            if isinstance(data, dict) and "error" in data:
                raise classify_oauth_error(
                    str(data["error"]), str(data.get("error_description", "")), self.credentials.auth_flow
                )
            raise TransientFailureError(f"HTTP {response.status_code} from {what} without a token")
        return data

    def _token_response(self, data: dict[str, Any]) -> TokenResponse:
        self.mask(str(data["access_token"]))
        if data.get("refresh_token"):
            self.mask(str(data["refresh_token"]))
        secret = self.credentials.consumer_secret
        if secret and data.get("signature") and not signature_is_valid(data, secret):
            raise SalesforceRequestError(
                "The token response's signature does not match the Consumer Secret: the answer was altered "
                "or the secret is wrong. Nothing was stored."
            )
        issued_ms = data.get("issued_at")
        try:
            issued_at = int(str(issued_ms)) / 1000.0
        except ValueError:
            issued_at = time.time()
        return TokenResponse(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            instance_url=self._trusted(str(data.get("instance_url", "")), "instance URL Salesforce returned"),
            identity_url=self._trusted(str(data.get("id", "")), "identity URL Salesforce returned"),
            issued_at=issued_at,
            scope=str(data.get("scope", "")),
            signature=data.get("signature"),
        )

    def _post_token(self, url: str, form: dict[str, str], what: str) -> TokenResponse:
        url = self._trusted(url, "token endpoint")

        def attempt() -> dict[str, Any]:
            response = self._send(
                what,
                lambda: self.http.post(
                    url, data=form, headers={"Accept": "application/json"}, timeout=self.timeout
                ),
            )
            return self._token_answer(response, what)

        return self._token_response(self.retry.run(what, attempt))

    # ---------------------------------------------------------------- grants
    def _oauth_session(self, **kwargs: Any) -> OAuth2Session:
        from requests_oauthlib import OAuth2Session

        session = OAuth2Session(self.credentials.consumer_key, **kwargs)
        session.verify = self.http.verify
        for hook in ("access_token_response", "refresh_token_response"):
            session.register_compliance_hook(hook, self._reject_non_token_answers)
        return session

    def _reject_non_token_answers(self, response: requests.Response) -> requests.Response:
        """Compliance hook: classify errors before oauthlib parses (it knows no 5xx, 429 or Salesforce errors)."""
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailureError(f"HTTP {response.status_code} from the token endpoint", _retry_after(response))
        self._token_answer(response, "the token endpoint")
        return response

    def _oauth_attempt(self, what: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            with _quiet_oauth_debug_logs():
                try:
                    return call()
                except requests.exceptions.SSLError as exc:
                    raise SalesforceUnreachableError(
                        f"TLS verification failed for {what}: {_short(str(exc))}."
                    ) from None
                except (requests.ConnectionError, requests.Timeout) as exc:
                    raise TransientFailureError(f"{type(exc).__name__} during {what}") from None

        return self.retry.run(what, attempt)

    def authorization_request(self, redirect_uri: str, state: str) -> tuple[str, str]:
        """First half of the web server flow: the authorize URL (PKCE S256) and the code verifier to keep."""
        session = self._oauth_session(redirect_uri=redirect_uri, scope=list(WEB_FLOW_SCOPES), pkce="S256")
        extra: dict[str, str] = {"prompt": "login consent"}
        if self.credentials.username:
            extra["login_hint"] = self.credentials.username
        url, _ = session.authorization_url(
            self._trusted(self.credentials.authorize_url, "authorize endpoint"), state=state, **extra
        )
        verifier = str(session._code_verifier)
        self.mask(verifier)
        return url, verifier

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenResponse:
        """Second half: redeem the authorization code with the verifier kept from the first half."""
        token_url = self._trusted(self.credentials.token_url, "token endpoint")
        # A new session without ``pkce`` (its verifier would not survive across processes: requests-oauthlib #550).
        session = self._oauth_session(redirect_uri=redirect_uri)
        secret = self.credentials.consumer_secret
        data = self._oauth_attempt(
            "the authorization code exchange",
            lambda: dict(
                session.fetch_token(
                    token_url,
                    code=code,
                    code_verifier=verifier,
                    include_client_id=True,
                    timeout=self.timeout,
                    **({"client_secret": secret} if secret else {}),
                )
            ),
        )
        return self._token_response(data)

    def redeem_refresh_token(self, refresh_token: str) -> TokenResponse:
        """Refresh token flow, at the host that issued the token, with no ``scope`` (Salesforce rejects it)."""
        token_url = self._trusted(self.credentials.token_url, "token endpoint")
        session = self._oauth_session(token={"access_token": "", "token_type": "Bearer"})
        secret = self.credentials.consumer_secret
        body = {"client_id": self.credentials.consumer_key, **({"client_secret": secret} if secret else {})}
        data = self._oauth_attempt(
            "the refresh token grant",
            lambda: dict(
                session.refresh_token(token_url, refresh_token=refresh_token, timeout=self.timeout, **body)
            ),
        )
        if data.get("refresh_token") == refresh_token:
            data.pop("refresh_token")  # requests-oauthlib re-inserts the old one when Salesforce sent none
        return self._token_response(data)

    def jwt_bearer(self) -> TokenResponse:
        """JWT bearer flow: a fresh RS256 assertion for the username; no refresh token comes back."""
        import jwt

        creds = self.credentials
        audience = (
            creds.login_url
            if not creds.login_url.endswith(("login.salesforce.com", "test.salesforce.com"))
            else ("https://test.salesforce.com" if creds.is_sandbox else "https://login.salesforce.com")
        )
        claims = {
            "iss": creds.consumer_key,
            "sub": creds.username,
            "aud": audience,
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        assertion = jwt.encode(claims, creds.private_key or "", algorithm="RS256")
        return self._post_token(
            creds.token_url, {"grant_type": JWT_GRANT, "assertion": assertion}, "the JWT bearer grant"
        )

    def client_credentials(self) -> TokenResponse:
        """Client credentials flow on the My Domain host; the token acts as the app's run-as user."""
        creds = self.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret or "",
        }
        return self._post_token(creds.token_url, form, "the client credentials grant")

    # ---------------------------------------------------------------- identity, introspection, revocation
    def check_identity(self, token: TokenResponse) -> tuple[str, str]:
        """Raise :class:`IdentityMismatchError` unless the token belongs to the connection's org and user."""
        creds = self.credentials
        found = token.org_and_user
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
            response = self._send("token introspection", lambda: self.http.post(url, data=form, timeout=self.timeout))
            data = self._json(response, "token introspection")
            return data if response.status_code == 200 and isinstance(data, dict) else None

        try:
            return self.retry.run("token introspection", attempt)
        except SalesforceUnreachableError:
            return None  # introspection only refines what we know

    def introspect_expiry(self, access_token: str) -> float | None:
        """The access token's real expiry (epoch seconds); Salesforce's token answer has no ``expires_in``."""
        data = self._introspect(access_token, "access_token")
        exp = data.get("exp") if data and data.get("active") else None
        return float(exp) if isinstance(exp, (int, float)) else None

    def introspect_active(self, token: str, hint: str = "refresh_token") -> bool | None:
        """Whether Salesforce still accepts a token, without using it; None when it cannot tell."""
        data = self._introspect(token, hint)
        return None if data is None else bool(data.get("active"))

    def identity(self, access_token: str, identity_url: str) -> dict[str, Any]:
        """GET the identity URL with the token: username, org and user IDs, ``active``."""
        return self._authorized_get(self._trusted(identity_url, "identity URL"), access_token, "the identity URL")

    def rest_limits(self, access_token: str, instance_url: str) -> dict[str, Any]:
        """One REST call (``/limits``) proving the token works for the API version of the connection."""
        url = f"{self._trusted(instance_url, 'instance URL')}/services/data/v{self.credentials.api_version}/limits"
        return self._authorized_get(url, access_token, "the REST API")

    def _authorized_get(self, url: str, access_token: str, what: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = self._send(
                what,
                lambda: self.http.get(
                    url,
                    headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                    timeout=self.timeout,
                ),
            )
            if response.status_code in (401, 403):  # JSON array (REST) or plain text (Bad_OAuth_Token on /id)
                raise TokenRevokedError(
                    f"Salesforce refused the access token at {what} (HTTP {response.status_code}: "
                    f"{_short(response.text, 120)})."
                )
            data = self._json(response, what)
            if response.status_code != 200 or not isinstance(data, dict):
                raise SalesforceRequestError(
                    f"HTTP {response.status_code} from {what}: {_short(json.dumps(data))}."
                )
            return data

        return self.retry.run(what, attempt)

    def revoke(self, token: str, base_url: str) -> bool:
        """Revoke a token (a refresh token also kills its access tokens). False if it was already dead."""
        url = self._trusted(f"{base_url}/services/oauth2/revoke", "revoke endpoint")

        def attempt() -> bool:
            response = self._send("token revocation", lambda: self.http.post(url, data={"token": token},
                                                                              timeout=self.timeout))
            if response.status_code == 200:
                return True
            if response.status_code == 400:
                return False  # invalid_token / unsupported_token_type: nothing left to revoke
            raise SalesforceRequestError(f"HTTP {response.status_code} from token revocation.")

        return self.retry.run("token revocation", attempt)

    def close(self) -> None:
        self.http.close()
