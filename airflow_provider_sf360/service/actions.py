"""``SF360Actions``: the product's actions on one ``sf360`` connection, each recorded in Airflow's audit log.

Set up, reset, test access and delete (and status, sharing a token, diagnosing a connection). The UI page,
the ``sf360`` CLI, the operators and DAG code all call these methods: one piece of code per action, audited
the same way wherever it runs. The token logic itself is the core lifecycle's (``core/lifecycle.py``), wired by
``SF360Hook`` for the process it runs in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_sf360.core.connection_type import DEFAULT_CONN_ID
from airflow_provider_sf360.core.errors import (
    CredentialsInvalidError,
    PermanentError,
    SF360Error,
    TokenStateUnreadableError,
)
from airflow_provider_sf360.core.lifecycle import ActionResult
from airflow_provider_sf360.core.state_keys import token_key
from airflow_provider_sf360.core.token_state import TokenLink
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.service.audit import AirflowAuditLog, AuditSink
from airflow_provider_sf360.service.fleet import revoke_stored_tokens
from airflow_provider_sf360.store.connections import (
    delete_state,
    describe_secret_fields,
    read_orphan,
    remove_secret_fields,
    team_of,
)
from airflow_provider_sf360.store.masking import mask_token
from airflow_provider_sf360.store.token_store import VariableTokenStore

KEPT_SECRETS_NOTE = (
    " The connection's own secret fields (Consumer Secret, Private Key, Refresh Token) were kept (Airflow 3 "
    "tasks cannot edit connections): remove them on the 'Salesforce 360' page (Delete), with `sf360 delete`, or "
    "by editing or deleting the connection."
)


class SF360Actions:
    """The actions on one ``sf360`` connection, each audited.

    How failures reach you: when an action cannot be done, the method raises a provider error
    (``airflow_provider_sf360.exceptions``) whose message says which case it is and the one thing to do; it is
    recorded as ``failed``. An :class:`ActionResult` with ``ok=False`` is only an answer: ``test_access`` is a
    probe whose answer may be "no access" (``status`` names the case), and ``setup`` of the authorization_code
    flow without an authorization response answers ``status="authorization_required"`` with the
    ``authorize_url`` to open.

    :param sf360_conn_id: the connection (type ``sf360``).
    :param audit: who acts and where actions are recorded (default: the current task inside one, else the
        operating-system user as ``cli:<user>``).
    :param hook: the connection's hook (default: a new ``SF360Hook``); for tests and callers that have one.
    """

    def __init__(
        self, sf360_conn_id: str = DEFAULT_CONN_ID, *, audit: AuditSink | None = None, hook: SF360Hook | None = None
    ) -> None:
        self.conn_id = sf360_conn_id
        self.audit = audit or AirflowAuditLog.here()
        self.hook = hook or SF360Hook(sf360_conn_id)

    # ---------------------------------------------------------------- auditing
    def _audited(self, event: str, run: Callable[[], ActionResult]) -> ActionResult:
        try:
            result = run()
        except SF360Error as error:
            self.audit.record(event, self.conn_id, "failed", str(error))
            raise
        outcome = "started" if result.status == "authorization_required" else ("success" if result.ok else "failed")
        self.audit.record(event, self.conn_id, outcome, result.message)
        return result

    # ---------------------------------------------------------------- set up
    def setup(self, authorization_response: str | None = None) -> ActionResult:
        """Obtain, verify and store a token by the connection's flow; revokes the one it replaces.

        :param authorization_response: authorization_code flow: the URL Salesforce redirected to (second half);
            without it the result carries the authorization URL to open (first half).
        """
        if authorization_response:
            return self.complete_authorization(authorization_response)
        return self._audited("setup", lambda: self.hook.lifecycle.setup(set_up_by=self.audit.actor))

    def start_authorization(self, redirect_uri: str | None = None, state: str | None = None) -> str:
        """First half of the web server flow (PKCE S256): the URL to open; the verifier is stored server-side.

        :param redirect_uri: the Callback URL Salesforce must redirect to (default: the connection's).
        :param state: the ``state`` value to use (default: a new random one); single-use.
        """
        try:
            url = self.hook.lifecycle.authorization_url(redirect_uri=redirect_uri, state=state,
                                                        requested_by=self.audit.actor)
        except SF360Error as error:
            self.audit.record("setup", self.conn_id, "failed", str(error))
            raise
        self.audit.record("setup", self.conn_id, "started", "sign-in started in Salesforce")
        return url

    def complete_authorization(self, authorization_response: str) -> ActionResult:
        """Second half: the URL Salesforce redirected to (with ``code`` and ``state``, or ``error``).

        :param authorization_response: the whole redirect URL.
        """
        denied = "error" in parse_qs(urlsplit(authorization_response).query)
        return self._audited(
            "authorization_denied" if denied else "authorization_completed",
            lambda: self.hook.lifecycle.complete_authorization(authorization_response, set_up_by=self.audit.actor),
        )

    # ---------------------------------------------------------------- reset, test, delete
    def reset(self, setup_again: bool = False) -> ActionResult:
        """Revoke and forget the token; every connection field stays.

        :param setup_again: set up again in the same step (refresh_token flow: refused, before anything is revoked,
            when the connection's refresh token was already redeemed: paste a new one first).
        """
        return self._audited(
            "reset", lambda: self.hook.lifecycle.reset(setup_again=setup_again, set_up_by=self.audit.actor)
        )

    def test_access(self) -> ActionResult:
        """Identity plus one REST call; ``ok`` False says which case it is. The outcome is kept as the last test.

        A refresh token unused for longer than ``[sf360] keep_alive_days`` is redeemed on the way, so that an
        app's idle-expiry policy never ends it.
        """
        return self._audited("test_access", lambda: self.hook.lifecycle.test_access())

    def delete(self, remove_connection_secrets: bool = False) -> ActionResult:
        """Revoke access and refresh tokens and remove the stored token (even when the fields are invalid).

        :param remove_connection_secrets: also clear the connection's Consumer Secret, Private Key and Refresh
            Token in the metadata DB (server side only: Airflow 3 tasks cannot edit connections).
        """
        if remove_connection_secrets and self.hook.in_task:
            raise PermanentError("A task cannot edit connections in Airflow 3: delete with the connection's "
                                 "secrets from the 'Salesforce 360' page or `sf360 delete`.")
        return self._audited("delete", lambda: self._delete(remove_connection_secrets))

    def _delete(self, remove_connection_secrets: bool) -> ActionResult:
        try:
            result = self.hook.lifecycle.delete()
        except (CredentialsInvalidError, TokenStateUnreadableError) as unusable:
            if self.hook.in_task:
                raise
            result = self._delete_without_credentials(unusable)
        if not remove_connection_secrets:
            return replace(result, message=result.message + KEPT_SECRETS_NOTE)
        removed = remove_secret_fields(self.conn_id)
        message = f"{result.message} Secret fields removed from the connection: {describe_secret_fields(removed)}."
        return replace(result, message=message, details={**result.details, "secret_fields_removed": removed})

    def _delete_without_credentials(self, why: SF360Error) -> ActionResult:
        """Delete for a connection whose fields or token state cannot be read: revoke what is stored, remove it."""
        key = token_key(self.conn_id)
        raw, _team = read_orphan(key)
        revoked = revoke_stored_tokens(raw) if raw else "there was no stored token"
        if raw:
            delete_state(key)
        reason = "its fields are invalid" if isinstance(why, CredentialsInvalidError) else "its state is unreadable"
        return ActionResult("delete", self.conn_id, True, "not_set_up",
                            f"Deleted the OAuth token state of connection {self.conn_id!r} ({reason}): {revoked}.",
                            {"token_removed": bool(raw)})

    # ---------------------------------------------------------------- status and sharing
    def status(self) -> dict[str, Any]:
        """Token status and last test result, without secrets and without calling Salesforce."""
        return self.hook.status()

    def share_with(self, other_conn_id: str) -> ActionResult:
        """Let another connection use this connection's token (server side; the caller checked the right to edit
        both). Both must name the same org, user and app; the other must hold no token of its own.

        :param other_conn_id: the connection that will use this token.
        """
        return self._audited("share", lambda: self._share(other_conn_id))

    def _share(self, other_conn_id: str) -> ActionResult:
        other = self._sharing_partner(other_conn_id)
        theirs = other.credentials
        if other.variables.get(theirs.state_key):
            raise PermanentError(f"Connection {other_conn_id!r} has token state of its own: reset or delete it "
                                 "first, then share.")
        with self.hook.lifecycle.lock.exclusive() as locked:
            state = locked.load()
            if state is None:
                raise PermanentError(f"Connection {self.conn_id!r} has no OAuth token to share: set it up first.")
            shared = tuple(sorted({*state.shared_with, other_conn_id}))
            locked.save(replace(state, shared_with=shared))
        VariableTokenStore(theirs.state_key, other.variables, mask_token).save_link(TokenLink(self.conn_id))
        return ActionResult("share", self.conn_id, True, state.status.value,
                            f"Connection {other_conn_id!r} now uses the OAuth token of {self.conn_id!r}.",
                            {"shared_with": list(shared)})

    def stop_sharing(self, other_conn_id: str) -> ActionResult:
        """Take back a token shared with another connection (which is then "not set up"; its fields stay).

        :param other_conn_id: the connection that used this token.
        """
        return self._audited("unshare", lambda: self._unshare(other_conn_id))

    def _unshare(self, other_conn_id: str) -> ActionResult:
        other = self._sharing_partner(other_conn_id)
        with self.hook.lifecycle.lock.exclusive() as locked:
            state = locked.load()
            if state is None or other_conn_id not in state.shared_with:
                raise PermanentError(f"Connection {self.conn_id!r} does not share its token with {other_conn_id!r}.")
            locked.save(replace(state, shared_with=tuple(c for c in state.shared_with if c != other_conn_id)))
        link_store = VariableTokenStore(other.credentials.state_key, other.variables, mask_token)
        link_store.clear()
        return ActionResult("unshare", self.conn_id, True, state.status.value,
                            f"Connection {other_conn_id!r} no longer uses the OAuth token of {self.conn_id!r}; set "
                            "up its own token to use it again.")

    def _sharing_partner(self, other_conn_id: str) -> SF360Hook:
        """The other connection's hook, if the two may share a token: the same org, user, app and team, and this
        one the token's owner (server side; the caller checked the right to edit both)."""
        if self.hook.in_task:
            raise PermanentError("Sharing a token is done from the Salesforce 360 page or `sf360 share`.")
        other = SF360Hook(other_conn_id)
        mine, theirs = self.hook.credentials, other.credentials
        if (mine.org_id, mine.user_id, mine.app_fingerprint) != (theirs.org_id, theirs.user_id, theirs.app_fingerprint):
            raise PermanentError(f"Connection {other_conn_id!r} names another org, user, Consumer Key or Login URL "
                                 f"than {self.conn_id!r}; only identical credentials can share a token.")
        if team_of(self.conn_id) != team_of(other_conn_id):
            raise PermanentError(f"Connections {self.conn_id!r} and {other_conn_id!r} belong to different teams; a "
                                 "token is never shared across teams.")
        if self.hook.lifecycle.state_key != token_key(self.conn_id):
            raise PermanentError(f"Connection {self.conn_id!r} uses another connection's token: share from that "
                                 "connection (`sf360 status` names it).")
        return other
