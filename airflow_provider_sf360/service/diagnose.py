"""``sf360 doctor`` and the page's Diagnose: what can be checked before and around a grant, each check with the
Setup page that fixes it. Nothing is consumed: a refresh token is only introspected, never redeemed; a JWT or
client credentials grant (harmless, they hold no refresh token) is made only to prove the app's settings, and the
token it returns is revoked at once.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_sf360.core import diagnosis
from airflow_provider_sf360.core.credentials import DEFAULT_CALLBACK_URL, AuthFlow
from airflow_provider_sf360.core.diagnosis import Check, Verdict
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.grants import client_credentials_grant, jwt_grant
from airflow_provider_sf360.core.oauth_client import PKCE_METHOD, SalesforceOAuthClient
from airflow_provider_sf360.core.renewal import how_to_set_up
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.service.audit import AirflowAuditLog, AuditSink

DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZE_PATH = "/services/oauth2/authorize"
# A syntactically valid PKCE challenge (RFC 7636's test vector): the probe only asks whether the app accepts the
# callback URL; no sign-in follows it.
PROBE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@dataclass
class Diagnosis:
    """The checks of one connection, in the order they ran."""

    conn_id: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(check.verdict is not Verdict.FAIL for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


def diagnose(
    conn_id: str,
    *,
    page_callback: str = "",
    certificate_pem: str | None = None,
    audit: AuditSink | None = None,
    hook: SF360Hook | None = None,
) -> Diagnosis:
    """Run every check on one connection (audited as ``diagnose``).

    :param conn_id: the connection.
    :param page_callback: the Callback URL the Salesforce 360 page uses (to name it; the CLI leaves it empty).
    :param certificate_pem: the certificate uploaded to the app, to compare with the Private Key (jwt_bearer).
    :param audit: who asks and where it is recorded.
    :param hook: the connection's hook (default: a new one).
    """
    hook = hook or SF360Hook(conn_id)
    result = Diagnosis(conn_id)
    try:
        creds = hook.credentials
    except SF360Error as error:
        result.checks.append(Check("fields", Verdict.FAIL, str(error), "Admin > Connections: edit the connection"))
        _record(audit, result)
        return result
    result.checks.append(Check("fields", Verdict.OK, f"every field is valid ({creds.auth_flow.value} flow)."))
    result.checks.append(diagnosis.login_host_kind(creds))
    client = hook.oauth_client
    date_header = _reachability(client, result)
    result.checks.append(diagnosis.clock_skew(date_header, time.time(), creds.auth_flow))
    cli_callback = creds.callback_url or DEFAULT_CALLBACK_URL
    web_flow = creds.auth_flow is AuthFlow.AUTHORIZATION_CODE
    answer = _authorize_answer(client, page_callback or cli_callback) if web_flow else None
    result.checks.append(diagnosis.callback(creds, page_callback or "(the api-server's /sf360/callback)",
                                            cli_callback, answer))
    if creds.auth_flow is AuthFlow.JWT_BEARER:
        result.checks.append(diagnosis.certificate(creds.private_key, certificate_pem))
    result.checks.append(_grant_check(client, creds.auth_flow))
    state = _stored_state(hook, result)
    result.checks.append(diagnosis.scopes(state, creds.auth_flow))
    result.checks.append(diagnosis.token_policy(state, hook.lifecycle.keep_alive_after, time.time()))
    if state is not None and state.refresh_token:
        result.checks.append(_refresh_token_check(client, state.refresh_token))
    _record(audit, result)
    return result


def _record(audit: AuditSink | None, result: Diagnosis) -> None:
    failed = [check.name for check in result.checks if check.verdict is Verdict.FAIL]
    summary = f"{len(result.checks)} checks; failed: {', '.join(failed)}" if failed else f"{len(result.checks)} checks"
    (audit or AirflowAuditLog.here()).record("diagnose", result.conn_id, "success" if result.ok else "failed", summary)


def _reachability(client: SalesforceOAuthClient, result: Diagnosis) -> str | None:
    try:
        status, date_header, _body = client.probe(DISCOVERY_PATH)
    except SF360Error as error:
        result.checks.append(diagnosis.reachability(client.credentials, None, str(error)))
        return None
    result.checks.append(diagnosis.reachability(client.credentials, status, None))
    return date_header


def _authorize_answer(client: SalesforceOAuthClient, redirect_uri: str) -> str | None:
    """What the authorize endpoint says of the callback URL: ok, redirect_uri_mismatch, invalid_client_id."""
    params = {"response_type": "code", "client_id": client.credentials.consumer_key, "redirect_uri": redirect_uri,
              "code_challenge": PROBE_CHALLENGE, "code_challenge_method": PKCE_METHOD}
    try:
        status, _date, body = client.probe(AUTHORIZE_PATH, params)
    except SF360Error:
        return None
    for known in ("redirect_uri_mismatch", "invalid_client_id"):
        if known in body:
            return known
    return "ok" if status < 400 else None


def _grant_check(client: SalesforceOAuthClient, flow: AuthFlow) -> Check:
    """For JWT bearer and client credentials: one grant proves the app's settings; its token is revoked at once."""
    if flow not in (AuthFlow.JWT_BEARER, AuthFlow.CLIENT_CREDENTIALS):
        return Check("grant", Verdict.SKIP, "a refresh token is never redeemed to diagnose (that would consume it).")
    creds = client.credentials
    grant = jwt_grant(creds) if flow is AuthFlow.JWT_BEARER else client_credentials_grant(creds)
    try:
        token = client.request_token(grant)
        org_user = client.check_identity(token)
    except SF360Error as error:
        return Check("grant", Verdict.FAIL, str(error))
    with contextlib.suppress(SF360Error):  # the token expires on its own; nothing depends on it
        client.revoke(token.access_token, token.instance_url)
    return Check("grant", Verdict.OK, f"Salesforce issued a token for org {org_user[0]} / user {org_user[1]} "
                 "(revoked again).")


def _stored_state(hook: SF360Hook, result: Diagnosis) -> TokenState | None:
    try:
        state = hook.lifecycle.stored_state()
    except SF360Error as error:
        result.checks.append(Check("stored token", Verdict.FAIL, str(error)))
        return None
    if state is None:
        result.checks.append(Check("stored token", Verdict.WARN, "no OAuth token is set up yet.",
                                   how_to_set_up(hook.sf360_conn_id)))
    else:
        failure = f"; last renewal failure: {state.last_failure}" if state.last_failure else ""
        result.checks.append(Check("stored token", Verdict.OK if not failure else Verdict.WARN,
                                   f"status {state.status.value}, generation {state.generation}{failure}."))
    return state


def _refresh_token_check(client: SalesforceOAuthClient, refresh_token: str) -> Check:
    active = client.introspect_active(refresh_token)
    if active is None:
        return Check("refresh token", Verdict.SKIP, "checking it without redeeming needs the Consumer Secret.")
    if active:
        return Check("refresh token", Verdict.OK, "Salesforce says the stored refresh token is active.")
    return Check("refresh token", Verdict.FAIL, "Salesforce says the stored refresh token is no longer active: set "
                 "up the OAuth token again.")
