"""``SF360Hook``: a ready Salesforce client from an ``sf360`` connection, whose token stays fresh.

The hook joins the pure core (credentials, OAuth client, lifecycle) with Airflow: it reads the connection and
the ``[sf360]`` options, keeps token state in Airflow Variables, masks every token in logs, and wires renewal
for where it runs. The four actions (set up, reset, test access, delete) are ``SF360Actions``
(``airflow_provider_sf360.service``), which audits each one. simple-salesforce and the OAuth client (requests)
are imported only when used, so DAG files that import this module parse fast.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_sf360.core.connection_type import CONN_TYPE, DEFAULT_CONN_ID, HOOK_NAME
from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials, credentials_from_connection_fields
from airflow_provider_sf360.core.errors import SF360Error
from airflow_provider_sf360.core.lifecycle import CredentialLifecycle
from airflow_provider_sf360.core.renewal import LockingRenewer, Renewer, TokenMinter
from airflow_provider_sf360.core.retry import RetryPolicy
from airflow_provider_sf360.exceptions import PermanentError  # noqa: F401  (marks permanent errors for Airflow)
from airflow_provider_sf360.metrics import StatsMetrics
from airflow_provider_sf360.settings import (
    assumed_session_timeout,
    keep_alive_seconds,
    lock_wait_timeout,
    provider_settings,
    refresh_timeout,
    renewal_mode,
    request_timeout,
    retry_policy,
)
from airflow_provider_sf360.store.connections import read_connection, saved_connection_with_same_fields, team_of
from airflow_provider_sf360.store.db_lock import DatabaseCredentialLock
from airflow_provider_sf360.store.locks import HostCredentialLock, HostLock
from airflow_provider_sf360.store.masking import mask_token
from airflow_provider_sf360.store.renewal_client import QUEUE_PREFIX, ApiServerRenewer
from airflow_provider_sf360.store.token_store import VariableTokenStore, resolve_token_key
from airflow_provider_sf360.store.variables import (
    MetadataDbVariables,
    TaskVariables,
    VariableBackend,
    running_in_task,
    running_in_test_supervisor,
)

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from airflow_provider_sf360.core.lifecycle import CredentialLock
    from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient

MACHINE_FLOWS = (AuthFlow.JWT_BEARER, AuthFlow.CLIENT_CREDENTIALS)


class SF360Hook(BaseHook):
    """Salesforce access for DAGs from one ``sf360`` connection.

    ``get_conn()`` gives a ``simple_salesforce.Salesforce`` client whose token is renewed as needed. When it
    cannot give one, it raises a provider error (``airflow_provider_sf360.exceptions``) whose message says which
    case it is and the one thing to do; permanent ones are also ``AirflowFailException``, so Airflow does not
    retry them. ``test_connection`` follows Airflow's contract instead (``(ok, message)``, never raises).

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
    def connection(self) -> Any:
        """The Airflow connection: through the Task SDK inside tasks; from the secrets backends and the metadata
        DB (in its team, under ``[core] multi_team``) elsewhere."""
        if self.in_task:
            return self.get_connection(self.sf360_conn_id)
        return read_connection(self.sf360_conn_id)

    @cached_property
    def credentials(self) -> SF360Credentials:
        """The connection's validated credentials (raises one error listing every bad field)."""
        conn = self.connection
        return credentials_from_connection_fields(
            self.sf360_conn_id, conn.extra_dejson, conn.login, conn.password, provider_settings()
        )

    @cached_property
    def in_task(self) -> bool:
        """Whether this hook runs in a task (the connection comes through the Task SDK)."""
        if self._variables is not None:
            return isinstance(self._variables, TaskVariables)
        return running_in_task()

    @cached_property
    def has_metadata_db(self) -> bool:
        """Whether this process may use the metadata DB: the server side, and tasks run in-process by
        ``dag.test()`` / ``airflow tasks test`` (two people testing one credential on a shared database then
        exclude each other through the database lock, as workers do through the api-server)."""
        if self._variables is not None:
            return not isinstance(self._variables, TaskVariables)
        if not running_in_task():
            return True
        return running_in_test_supervisor() and renewal_mode() == "auto"

    @cached_property
    def variables(self) -> VariableBackend:
        """Where this connection's Variables are read and written (in its team on the server side)."""
        if self._variables is not None:
            return self._variables
        if not self.has_metadata_db:
            return TaskVariables()
        return MetadataDbVariables(team_of(self.sf360_conn_id))

    @cached_property
    def oauth_client(self) -> SalesforceOAuthClient:
        """The connection's OAuth client (the network)."""
        from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient  # requests: ~36 ms

        return SalesforceOAuthClient(
            self.credentials,
            provider_settings(),
            retry=self.retry or retry_policy(),
            timeout=request_timeout(),
            refresh_timeout=refresh_timeout(),
            mask=mask_token,
        )

    @cached_property
    def lifecycle(self) -> CredentialLifecycle:
        """The actions and token renewal, wired for where this runs (see :meth:`_renewal_parts`)."""
        minter = TokenMinter(self.credentials, self.oauth_client, session_timeout=assumed_session_timeout())
        auto_setup = self.credentials.auth_flow in MACHINE_FLOWS if self.auto_setup is None else self.auto_setup
        resolved = resolve_token_key(self.variables, self.sf360_conn_id)
        store = VariableTokenStore(resolved.state_key, self.variables, mask=mask_token)
        lock, renewer = self._renewal_parts(minter, store, auto_setup)
        return CredentialLifecycle(minter, store, lock, renewer, auto_setup=auto_setup,
                                   keep_alive_after=keep_alive_seconds())

    def _renewal_parts(
        self, minter: TokenMinter, store: VariableTokenStore, auto_setup: bool
    ) -> tuple[CredentialLock, Renewer]:
        """The credential lock and the renewer for this process.

        - With the metadata DB (api-server, CLI, scheduler, ``dag.test()``, ``airflow tasks test``): the credential
          lock is a row lock in the metadata DB (the host lock on SQLite, which serves one host).
        - A task on a worker asks the api-server, which takes the DB lock for everyone: refresh-token flows so that
          a refresh token is redeemed once, JWT bearer and client credentials so that many pods starting together
          make one grant (these fall back to the task's own host lock when the api-server cannot be reached: they
          hold no refresh token to lose). ``[sf360] renewal = local`` renews in the task under the host lock,
          which is only correct on one host.
        """
        host_lock = HostLock(store.state_key, wait_seconds=lock_wait_timeout())
        metrics = StatsMetrics()
        if self.has_metadata_db:
            lock: CredentialLock = DatabaseCredentialLock(store, host_lock, mask=mask_token)
            return lock, LockingRenewer(minter, store, lock, auto_setup=auto_setup, metrics=metrics)
        lock = HostCredentialLock(store, host_lock)
        local = LockingRenewer(minter, store, lock, auto_setup=auto_setup, metrics=metrics)
        if not self._renews_through_api_server():
            return lock, local
        # Its own host lock: a task that holds the renewers' lock while the api-server on the same host waits for
        # that lock would deadlock (LocalExecutor, or a worker next to the api-server).
        queue = HostLock(QUEUE_PREFIX + store.state_key, wait_seconds=lock_wait_timeout())
        fallback = None if minter.holds_refresh_token else local  # machine flows have no refresh token to lose
        return lock, ApiServerRenewer(minter, store, queue, metrics=metrics, local=fallback)

    @staticmethod
    def _renews_through_api_server() -> bool:
        return renewal_mode() != "local"

    # ---------------------------------------------------------------- the client
    def get_conn(self) -> Salesforce:
        """A ``simple_salesforce.Salesforce`` whose token stays valid for REST and Bulk 2.0 calls.

        Uses the stored token while it is valid (no Salesforce call); renews it near its end or when Salesforce
        answers ``INVALID_SESSION_ID`` (once per refusal, for every call). The client holds the live token in
        ``session_id`` and ``headers``: never return those from a task (they would land in XCom).
        """
        from simple_salesforce import Salesforce  # ~0.4 s with zeep: only when a client is asked for

        from airflow_provider_sf360.core.salesforce_session import RenewingSalesforceSession

        tokens = self.lifecycle.token_source()
        state = tokens.current_state()
        session = RenewingSalesforceSession(tokens, provider_settings())
        return Salesforce(
            instance_url=state.instance_url,
            session_id=state.access_token,
            version=self.credentials.api_version,
            session=session,
        )

    def status(self) -> dict[str, Any]:
        """Token status and last test result, without secrets and without calling Salesforce."""
        return self.lifecycle.status()

    # ---------------------------------------------------------------- Airflow's Test button
    def test_connection(self) -> tuple[bool, str]:
        """Test access without side effects on refresh token rotation (never redeems a refresh token)."""
        # Airflow runs the button under a temporary conn id: record nothing, and never name that id.
        try:
            lifecycle = self._tested_connection_hook().lifecycle
            result = lifecycle.test_access(allow_refresh=lifecycle.auto_setup, record=False)
            ok, message = result.ok, result.message
        except SF360Error as error:
            ok, message = False, str(error)
        return ok, self._without_conn_id(message)

    def _tested_connection_hook(self) -> SF360Hook:
        """The hook of the saved connection the form's Test button runs for (its temporary id owns no token)."""
        if self.in_task:
            return self
        saved = saved_connection_with_same_fields(self.connection)
        return self if saved is None else SF360Hook(saved, auto_setup=self.auto_setup, retry=self.retry)

    def _without_conn_id(self, message: str) -> str:
        conn_id = self.sf360_conn_id
        message = message.replace(f"connection {conn_id!r}", "this connection")
        message = message.replace(f"Connection {conn_id!r}", "This connection")
        return message.replace(conn_id, "<connection id>")
