"""``SF360Hook``: a ready Salesforce client from an ``sf360`` connection, and the four OAuth actions.

The hook joins the pure core (credentials, OAuth client, lifecycle) with Airflow: it reads the connection
and the ``[sf360]`` options, keeps token state in Airflow Variables, masks every token in logs, and marks
permanent errors so Airflow does not retry them. simple-salesforce and requests-oauthlib are imported only
when used, so DAG files that import this module parse fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cached_property, wraps
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_sf360.core.connection_type import CONN_TYPE, DEFAULT_CONN_ID, HOOK_NAME
from airflow_provider_sf360.core.credentials import SF360Credentials, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.lifecycle import ActionResult, CredentialLifecycle
from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.exceptions import for_airflow
from airflow_provider_sf360.settings import (
    assumed_session_timeout,
    lock_wait_timeout,
    provider_settings,
    refresh_timeout,
    renewal_mode,
    request_timeout,
    retry_policy,
)
from airflow_provider_sf360.store.variables import VariableBackend, running_in_task, running_in_test_supervisor

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient
    from airflow_provider_sf360.core.renewal import TokenMinter
    from airflow_provider_sf360.store.token_store import VariableTokenStore

T = TypeVar("T")


def _mask(secret: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


def _airflow_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Re-raise provider errors with Airflow's no-retry marker when they are permanent."""

    @wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except SF360Error as error:
            raise for_airflow(error) from None

    return wrapper


class _AirflowTokenSource:
    """The lifecycle's token source, with Airflow-marked errors (raised from inside simple-salesforce calls)."""

    def __init__(self, lifecycle: CredentialLifecycle) -> None:
        self._source = lifecycle.token_source()

    @_airflow_errors
    def current_state(self) -> TokenState:
        return self._source.current_state()

    @_airflow_errors
    def current_access_token(self) -> str:
        return self._source.current_access_token()

    @_airflow_errors
    def renewed_access_token(self, stale: str) -> str:
        return self._source.renewed_access_token(stale)


class SF360Hook(BaseHook):
    """Salesforce access for DAGs from one ``sf360`` connection.

    How failures reach you (one rule for every method): when an action cannot be done, the method raises a
    provider error (``airflow_provider_sf360.exceptions``), whose message says which case it is and the one thing
    to do; permanent ones are also ``AirflowFailException``, so Airflow does not retry them. An
    :class:`ActionResult` with ``ok=False`` is never a failure of the method, only an answer: ``test_access`` is
    a probe whose answer may be "no access" (``status`` names the case: not_set_up, revoked, identity_mismatch,
    unreachable, ...), and ``setup`` of the authorization_code flow without an authorization response answers
    ``status="authorization_required"`` with the ``authorize_url`` to open (nothing is set up yet).
    ``test_connection`` follows Airflow's contract instead: it returns ``(False, message)`` and never raises.

    :param sf360_conn_id: the Airflow connection id (type ``sf360``).
    :param auto_setup: obtain a token when none is stored; default True for the jwt_bearer and
        client_credentials flows (no person needed), False for the others.
    :param retry: how transient failures are retried (default: the ``[sf360]`` options).
    :param variables: where token state is kept (default: the Task SDK inside tasks, the metadata DB elsewhere);
        for tests.
    """

    conn_name_attr = "sf360_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(
        self,
        sf360_conn_id: str = default_conn_name,
        *,
        auto_setup: bool | None = None,
        retry: RetryPolicy | None = None,
        variables: VariableBackend | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sf360_conn_id = sf360_conn_id
        self.auto_setup = auto_setup
        self.retry = retry
        self._variables = variables

    # ---------------------------------------------------------------- wiring
    @cached_property
    @_airflow_errors
    def credentials(self) -> SF360Credentials:
        """The connection's validated credentials (raises one error listing every bad field)."""
        conn = self._read_connection()
        return credentials_from_connection_fields(
            self.sf360_conn_id, conn.extra_dejson, conn.login, conn.password, provider_settings()
        )

    def _read_connection(self) -> Any:
        """Through the Task SDK inside tasks; from the secrets backends and metadata DB elsewhere (UI, CLI).

        Under ``[core] multi_team`` a team's connection is read with its team (the metadata DB knows it), as
        Airflow's secrets backends find team connections only for their team.
        """
        if running_in_task():
            return self.get_connection(self.sf360_conn_id)
        from airflow.configuration import conf
        from airflow.models.connection import Connection

        team_name = None
        if conf.getboolean("core", "multi_team", fallback=False):
            team_name = Connection.get_team_name(self.sf360_conn_id)
        return Connection.get_connection_from_secrets(self.sf360_conn_id, team_name=team_name)

    @cached_property
    def oauth_client(self) -> SalesforceOAuthClient:
        from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient

        return SalesforceOAuthClient(
            self.credentials,
            provider_settings(),
            retry=self.retry or retry_policy(),
            timeout=request_timeout(),
            refresh_timeout=refresh_timeout(),
            mask=_mask,
        )

    @cached_property
    def lifecycle(self) -> CredentialLifecycle:
        """The actions and token renewal, wired for where this runs (see :meth:`_renewal_parts`)."""
        from airflow_provider_sf360.core.renewal import MACHINE_FLOWS, TokenMinter

        minter = TokenMinter(self.credentials, self.oauth_client, session_timeout=assumed_session_timeout())
        auto_setup = self.credentials.auth_flow in MACHINE_FLOWS if self.auto_setup is None else self.auto_setup
        store, lock, renewer = self._renewal_parts(minter, auto_setup)
        return CredentialLifecycle(minter, store, lock, renewer, auto_setup=auto_setup)

    def _renewal_parts(self, minter: TokenMinter, auto_setup: bool) -> tuple[VariableTokenStore, Any, Any]:
        """Store, lock and renewer for this process.

        - Server side (api-server, CLI, scheduler): Variables through the metadata DB; the credential lock is a
          row lock in the metadata DB (the host lock on SQLite).
        - A task: Variables through the Task SDK. Refresh-token flows ask the api-server to renew (it takes the
          DB lock for everyone); under ``dag.test()``/``airflow tasks test`` (or ``[sf360] renewal = local``)
          the task renews itself under the host lock, which is correct on one host. JWT bearer and client
          credentials renew in the task under the host lock: they hold no refresh token to lose.
        """
        from airflow_provider_sf360.core.renewal import LockingRenewer
        from airflow_provider_sf360.metrics import StatsMetrics
        from airflow_provider_sf360.store.locks import HostCredentialLock, HostLock
        from airflow_provider_sf360.store.token_store import VariableTokenStore
        from airflow_provider_sf360.store.variables import MetadataDbVariables, TaskVariables

        state_key = self.credentials.state_key
        host_lock = HostLock(state_key, wait_seconds=lock_wait_timeout())
        metrics = StatsMetrics()
        in_task = running_in_task() if self._variables is None else isinstance(self._variables, TaskVariables)
        if not in_task:
            from airflow_provider_sf360.store.db_lock import DatabaseCredentialLock

            store = VariableTokenStore(state_key, self._variables or MetadataDbVariables(), mask=_mask)
            lock: Any = DatabaseCredentialLock(store, host_lock, mask=_mask)
            return store, lock, LockingRenewer(minter, store, lock, auto_setup=auto_setup, metrics=metrics)
        store = VariableTokenStore(state_key, self._variables or TaskVariables(), mask=_mask)
        lock = HostCredentialLock(store, host_lock)
        if minter.holds_refresh_token and self._renews_through_api_server():
            from airflow_provider_sf360.store.renewal_client import QUEUE_PREFIX, ApiServerRenewer

            # Its own host lock: a task that holds the renewers' lock while the api-server on the same host waits
            # for that lock would deadlock (LocalExecutor, or a worker next to the api-server).
            queue = HostLock(QUEUE_PREFIX + state_key, wait_seconds=lock_wait_timeout())
            return store, lock, ApiServerRenewer(minter, store, queue, metrics=metrics)
        return store, lock, LockingRenewer(minter, store, lock, auto_setup=auto_setup, metrics=metrics)

    @staticmethod
    def _renews_through_api_server() -> bool:
        mode = renewal_mode()
        return mode == "api_server" or (mode == "auto" and not running_in_test_supervisor())

    # ---------------------------------------------------------------- the client
    @_airflow_errors
    def get_conn(self) -> Salesforce:
        """A ``simple_salesforce.Salesforce`` whose token stays valid for REST and Bulk 2.0 calls.

        Uses the stored token while it is valid (no Salesforce call); renews it near its end or when Salesforce
        answers ``INVALID_SESSION_ID`` (once per refusal, for every call). The client holds the live token in
        ``session_id`` and ``headers``: never return those from a task (they would land in XCom).
        """
        from simple_salesforce import Salesforce

        from airflow_provider_sf360.core.salesforce_session import RenewingSalesforceSession

        tokens = _AirflowTokenSource(self.lifecycle)
        state = tokens.current_state()
        session = RenewingSalesforceSession(tokens, provider_settings())
        return Salesforce(
            instance_url=state.instance_url,
            session_id=state.access_token,
            version=self.credentials.api_version,
            session=session,
        )

    # ---------------------------------------------------------------- the four actions
    @_airflow_errors
    def setup(self, authorization_response: str | None = None, set_up_by: str | None = None) -> ActionResult:
        """Obtain, verify and store a token by the connection's flow; revokes the one it replaces.

        :param authorization_response: authorization_code flow: the URL Salesforce redirected to (second half);
            without it the result carries the authorization URL to open (first half).
        :param set_up_by: who set it up (a user name or a task), kept with the token and in the audit log.
        """
        result = self.lifecycle.setup(authorization_response=authorization_response, set_up_by=set_up_by)
        return self._prune_left_behind(result)

    def _prune_left_behind(self, result: ActionResult) -> ActionResult:
        """After a setup: revoke and remove token state this connection held under its earlier org, user or app
        (edited identity fields leave it unreachable). Server side only: listing it needs the metadata DB."""
        if not result.ok or running_in_task():
            return result
        from airflow_provider_sf360.store.connections import orphaned_states, prune_orphan

        left_behind = [o.state_key for o in orphaned_states() if o.set_up_for == self.sf360_conn_id]
        pruned = [key for key in left_behind if prune_orphan(key)[0]]
        if not pruned:
            return result
        note = " The token it held under its earlier org, user or app was revoked and removed."
        return replace(result, message=result.message + note, details={**result.details, "pruned": len(pruned)})

    @_airflow_errors
    def reset(self, setup_again: bool = False, set_up_by: str | None = None) -> ActionResult:
        """Revoke and forget the token; every connection field stays.

        :param setup_again: set up again in the same step (refresh_token flow: refused, before anything is revoked,
            when the connection's refresh token was already redeemed: paste a new one first).
        :param set_up_by: who set it up again, for the token record and the audit log.
        """
        return self.lifecycle.reset(setup_again=setup_again, set_up_by=set_up_by)

    @_airflow_errors
    def test_access(self) -> ActionResult:
        """Identity plus one REST call; an answer with ``ok`` False says which case it is (see the class docstring).

        The outcome is kept as the connection's "last test" (shown on the page and by ``sf360 status``).
        """
        return self.lifecycle.test_access()

    @_airflow_errors
    def delete(self, remove_connection_secrets: bool = False) -> ActionResult:
        """Revoke access and refresh tokens and remove the stored token.

        ``remove_connection_secrets`` also clears the connection's Consumer Secret, Private Key and Refresh Token
        in the metadata DB: server side only (UI page, CLI), since Airflow 3 tasks cannot write Connections.
        """
        result = self.lifecycle.delete()
        if not remove_connection_secrets:
            note = (
                " The connection's own secret fields (Consumer Secret, Private Key, Refresh Token) were kept "
                "(Airflow 3 tasks cannot edit connections): remove them on the 'Salesforce 360' page (Delete), with "
                "`sf360 delete`, or by editing or deleting the connection."
            )
            return replace(result, message=result.message + note)
        from airflow_provider_sf360.store.connections import describe_secret_fields, remove_secret_fields

        removed = remove_secret_fields(self.sf360_conn_id)
        message = f"{result.message} Secret fields removed from the connection: {describe_secret_fields(removed)}."
        return replace(result, message=message, details={**result.details, "secret_fields_removed": removed})

    @_airflow_errors
    def status(self) -> dict[str, Any]:
        """Token status and last test result, without secrets and without calling Salesforce.

        :return: a JSON-serialisable dict: ``status`` (active, expired, revoked, identity_mismatch, not_set_up),
            the connection's non-secret fields, token times and ``last_test``.
        """
        return self.lifecycle.status()

    @_airflow_errors
    def authorization_url(
        self, redirect_uri: str | None = None, state: str | None = None, requested_by: str | None = None
    ) -> str:
        """First half of the web server flow (PKCE S256); the verifier is stored server-side.

        :param redirect_uri: the Callback URL Salesforce must redirect to (default: the connection's).
        :param state: the ``state`` value to use (default: a new random one); single-use.
        :param requested_by: who started the sign-in (becomes ``set_up_by``).
        :return: the URL to open in a browser.
        """
        return self.lifecycle.authorization_url(redirect_uri=redirect_uri, state=state, requested_by=requested_by)

    @_airflow_errors
    def complete_authorization(self, authorization_response: str, set_up_by: str | None = None) -> ActionResult:
        """Second half: the URL Salesforce redirected to (with ``code`` and ``state``).

        :param authorization_response: the whole redirect URL.
        :param set_up_by: who set it up (defaults to who started the sign-in).
        """
        result = self.lifecycle.complete_authorization(authorization_response, set_up_by=set_up_by)
        return self._prune_left_behind(result)

    # ---------------------------------------------------------------- Airflow's Test button
    def test_connection(self) -> tuple[bool, str]:
        """Test access without side effects on refresh token rotation (never redeems a refresh token)."""
        # Airflow runs the button under a temporary conn id: record nothing, and never name that id.
        try:
            lifecycle = self.lifecycle
            result = lifecycle.test_access(allow_refresh=lifecycle.auto_setup, record=False)
            ok, message = result.ok, result.message
        except SF360Error as error:
            ok, message = False, str(error)
        return ok, self._without_conn_id(message)

    def _without_conn_id(self, message: str) -> str:
        conn_id = self.sf360_conn_id
        message = message.replace(f"connection {conn_id!r}", "this connection")
        message = message.replace(f"Connection {conn_id!r}", "This connection")
        return message.replace(conn_id, "<connection id>")
