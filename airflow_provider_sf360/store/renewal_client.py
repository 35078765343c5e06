"""Task side of renewal: the api-server obtains tokens, under the metadata-DB lock, for every task.

Tasks have no metadata database in Airflow 3 and Variables have no compare-and-set, so a task never redeems
a refresh token itself (outside ``dag.test()``). It queues behind the other tasks of its host, re-reads the
token, and only then asks the api-server (``POST /sf360/api/renew``), proving that it holds what the token comes
from (``core/proof.py``: an HMAC over every field of the request and a fresh nonce, keyed with the refresh token
it wants replaced, or for JWT bearer and client credentials with the connection's Private Key or Consumer
Secret). The answer holds no secret: the task reads the renewed token from its Variable afterwards.

Refresh-token flows depend on the api-server: unreachable, the task fails retryably and nothing is redeemed; a
wrong wiring (no api-server address, a server without the sf360 routes, a redirect, an answer that is not the
provider's JSON) fails it at once with one permanent message that says which setting to change. JWT bearer and
client credentials go through it so that many pods starting together make one grant, but hold no refresh token
to lose: when the api-server cannot do it they obtain a token in the task instead. The task waits for the answer
longer than the api-server can take to start and finish a renewal (``plugin_api.renewal_answer_timeout``).
"""

from __future__ import annotations

import logging
import time

from airflow_provider_sf360.core.credentials import AuthFlow
from airflow_provider_sf360.core.errors import (
    ApiServerWiringError,
    RenewalRefusedError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
    rebuild_error,
)
from airflow_provider_sf360.core.proof import ProofValue, proven_request
from airflow_provider_sf360.core.renewal import NoMetrics, RenewalMetrics, Renewer, TokenMinter, not_set_up
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.store.locks import HostLock
from airflow_provider_sf360.store.plugin_api import PluginApiAnswer, post_json, renewal_answer_timeout
from airflow_provider_sf360.store.token_store import VariableTokenStore

log = logging.getLogger(__name__)

RENEW_PATH = "/renew"
QUEUE_PREFIX = "api-queue:"  # host-lock name of tasks waiting for the api-server (never the renewers' own lock)
RENEW_PURPOSE = "renew"


class ApiServerRenewer:
    """Renews a credential's token by asking the api-server.

    :param minter: token logic (usability checks; the grant itself runs on the api-server).
    :param store: the task's view of the token (Task SDK Variables).
    :param host_lock: this credential's host lock: one request per host at a time.
    :param metrics: where waits are counted.
    :param local: for JWT bearer and client credentials, how to obtain a token here when the api-server cannot
        be reached (harmless: no refresh token can be lost).
    """

    def __init__(
        self, minter: TokenMinter, store: VariableTokenStore, host_lock: HostLock,
        metrics: RenewalMetrics | None = None, local: Renewer | None = None,
    ) -> None:
        self.minter = minter
        self.store = store
        self.host_lock = host_lock
        self.metrics = metrics or NoMetrics()
        self.local = local

    def renew(self, stale_access_token: str | None) -> TokenState:
        """The renewed state (read back from the Variable after the api-server stored it)."""
        if (usable := self.minter.usable(self.store.load(), stale_access_token)) is not None:
            return usable
        queued = time.monotonic()
        with self.host_lock.hold():
            state = self.store.load()
            self.metrics.waited(time.monotonic() - queued)
            if (usable := self.minter.usable(state, stale_access_token)) is not None:
                return usable
            try:
                return self._ask_api_server(state, stale_access_token)
            except (SalesforceUnreachableError, RenewalRefusedError, ApiServerWiringError) as failed:
                if self.local is None or failed.grant_unresolved:
                    raise
                log.warning("sf360: the api-server did not obtain the token of connection %r (%s); obtaining it in "
                            "this task instead", self.minter.credentials.conn_id, failed)
                return self.local.renew(stale_access_token)

    def _ask_api_server(self, state: TokenState | None, stale_access_token: str | None) -> TokenState:
        for _ in range(2):  # a second round only after another host renewed between our read and our request
            answer = post_json(RENEW_PATH, self._request(state, stale_access_token), timeout=renewal_answer_timeout())
            if (wrong := wiring_error(answer, self.minter.credentials.conn_id)) is not None:
                raise wrong
            fresh = self.store.load()
            if answer.status == 200:
                return self._renewed(fresh)
            moved_on = fresh is not None and (state is None or fresh.generation != state.generation)
            if answer.status in (401, 403) and moved_on and fresh is not None:
                if (usable := self.minter.usable(fresh, stale_access_token)) is not None:
                    return usable
                state = fresh
                continue
            raise self._error(answer)
        raise RenewalRefusedError(
            f"The token of connection {self.minter.credentials.conn_id!r} kept changing while this task asked the "
            "api-server to renew it; retry the task."
        )

    def _request(self, state: TokenState | None, stale_access_token: str | None) -> dict[str, object]:
        fields: dict[str, ProofValue] = {
            "conn_id": self.minter.credentials.conn_id,
            "state_key": self.store.state_key,
            "generation": state.generation if state is not None else 0,
            "refused": bool(state and stale_access_token and state.access_token == stale_access_token),
        }
        return dict(proven_request(self._proof_key(state), purpose=RENEW_PURPOSE, fields=fields,
                                   timestamp=int(time.time())))

    def _proof_key(self, state: TokenState | None) -> str:
        """What this task proves it holds: the stored refresh token, or the connection's own secret (machine
        flows, which the api-server may obtain a first token for)."""
        creds = self.minter.credentials
        if creds.auth_flow is AuthFlow.JWT_BEARER:
            return creds.private_key or ""
        if creds.auth_flow is AuthFlow.CLIENT_CREDENTIALS:
            return creds.consumer_secret or ""
        if state is None:  # a refresh-token flow's first token is set up by a person, never renewed
            raise not_set_up(creds)
        if not state.refresh_token:
            raise TokenRevokedError(
                f"Connection {creds.conn_id!r} has no refresh token stored. Set up the OAuth token again."
            )
        return state.refresh_token

    def _renewed(self, fresh: TokenState | None) -> TokenState:
        if fresh is None:
            raise not_set_up(self.minter.credentials)
        self.minter.raise_if_unusable(fresh)
        return fresh

    def _error(self, answer: PluginApiAnswer) -> SF360Error:
        reason = str(answer.body.get("reason") or "")
        if reason:
            return rebuild_error(reason, answer.detail)
        conn_id = self.minter.credentials.conn_id
        if answer.status in (401, 403):
            return RenewalRefusedError(
                f"The api-server refused to renew the token of connection {conn_id!r}: this task's copy of the "
                "refresh token does not match the stored one, or the api-server does not read this connection as "
                "an sf360 connection of the same org, user and app (define it where the api-server reads "
                "connections; its log names the cause). Set up the OAuth token again if this repeats."
            )
        return SalesforceUnreachableError(
            f"The api-server answered HTTP {answer.status} to the renewal of connection {conn_id!r}; nothing was "
            "redeemed. The task can be retried."
        )


SET_API_SERVER_URL = (
    "Set [sf360] api_server_url (AIRFLOW__SF360__API_SERVER_URL) on the workers to the base URL of the api-server "
    "that runs the core API (UI) with airflow-provider-sf360 installed."
)


def wiring_error(answer: PluginApiAnswer, conn_id: str) -> ApiServerWiringError | None:
    """The permanent error for an answer that did not come from the provider's renewal route, else None."""
    if answer.body.get("reason"):
        return None  # the provider answered; its reason says what happened
    where = f"{answer.url or 'the api-server'} (connection {conn_id!r}; nothing was redeemed)"
    if answer.status == 404:
        return ApiServerWiringError(
            f"No sf360 renewal route at {where}: HTTP 404. That server is an execution-only api-server "
            f"(airflow api-server --apps execution) or runs without the provider. {SET_API_SERVER_URL}"
        )
    if answer.status == 405:
        return ApiServerWiringError(
            f"The api-server at {where} serves the core API but not the sf360 plugin: HTTP 405. Install "
            f"airflow-provider-sf360 on that api-server (its plugin renews tokens for tasks). {SET_API_SERVER_URL}"
        )
    if 300 <= answer.status < 400:
        return ApiServerWiringError(
            f"The server at {where} answered with a redirect (HTTP {answer.status}), which is not followed. "
            f"{SET_API_SERVER_URL} Use the address it is really served at (scheme, host, port, base path)."
        )
    if not answer.is_json and answer.status < 500:
        return ApiServerWiringError(
            f"The server at {where} answered HTTP {answer.status} with something that is not the sf360 API's JSON "
            f"(a web page, or a proxy's answer). {SET_API_SERVER_URL}"
        )
    return None
