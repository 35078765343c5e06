"""One credential's token state in Airflow Variables (implements ``core.lifecycle.ActionStore``).

Keys are derived from the credential's identity (org, user, app), never from the conn id, so that the
connection form's Test button (which runs under a temporary conn id) sees the same token as tasks.
Every key names a token or secret, so Airflow masks the values in its UI.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from airflow_provider_sf360.core.lifecycle import PendingAuthorization
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.store.variables import VariableBackend

MaskFn = Callable[[str], None]
TOKEN_PREFIX = "sf360_token__"
STATUS_PREFIX = "sf360_status__"
LOCK_PREFIX = "sf360_lock__"
PENDING_PREFIX = "sf360_pkce_secret__"


def lock_key_for(state_key: str) -> str:
    """The Variable key of a credential's renewal lock row."""
    return state_key.replace(TOKEN_PREFIX, LOCK_PREFIX, 1)


class VariableTokenStore:
    """Token state, last test result and pending web-flow verifiers of one credential.

    :param state_key: the credential's token Variable key (``SF360Credentials.state_key``).
    :param variables: where Variables are read and written (Task SDK, metadata DB, or one DB session).
    :param mask: registers a secret with Airflow's log masker.
    """

    def __init__(self, state_key: str, variables: VariableBackend, mask: MaskFn) -> None:
        self.state_key = state_key
        self.status_key = state_key.replace(TOKEN_PREFIX, STATUS_PREFIX, 1)
        self.variables = variables
        self.mask = mask

    def _mask_tokens(self, state: TokenState) -> None:
        for secret in (state.access_token, state.refresh_token):
            if secret:
                self.mask(secret)

    def load(self) -> TokenState | None:
        raw = self.variables.get(self.state_key)
        if not raw:
            return None
        state = TokenState.from_json(raw)
        self._mask_tokens(state)
        return state

    def save(self, state: TokenState) -> None:
        self._mask_tokens(state)
        description = f"sf360: OAuth token of org {state.org_id} / user {state.user_id} (managed, do not edit)"
        self.variables.set(self.state_key, state.to_json(), description)

    def clear(self) -> None:
        self.variables.delete(self.state_key)

    @staticmethod
    def _pending_key(state_param: str) -> str:
        return PENDING_PREFIX + hashlib.sha256(state_param.encode()).hexdigest()[:40]

    def save_pending(self, state_param: str, pending: PendingAuthorization) -> None:
        self.mask(pending.code_verifier)
        self.variables.set(
            self._pending_key(state_param), json.dumps(asdict(pending)), "sf360: pending OAuth authorization"
        )
        sweep_expired_pending(self.variables)

    def pop_pending(self, state_param: str) -> PendingAuthorization | None:
        key = self._pending_key(state_param)
        raw = self.variables.get(key)
        if not raw:
            return None
        self.variables.delete(key)  # single use
        pending = PendingAuthorization(**json.loads(raw))
        self.mask(pending.code_verifier)
        return pending

    def forget_pending(self) -> None:
        """Remove this credential's unfinished sign-ins (their PKCE verifiers) and every expired one."""
        sweep_expired_pending(self.variables, also_state_key=self.state_key)

    def load_test_record(self) -> dict[str, Any] | None:
        raw = self.variables.get(self.status_key)
        return json.loads(raw) if raw else None

    def save_test_record(self, record: dict[str, Any]) -> None:
        self.variables.set(self.status_key, json.dumps(record, default=str), "sf360: last access test (managed)")

    def clear_test_record(self) -> None:
        self.variables.delete(self.status_key)


def sweep_expired_pending(
    variables: VariableBackend, also_state_key: str | None = None, now: float | None = None
) -> int:
    """Delete pending sign-ins older than the authorization code's lifetime (and, if given, those of one
    credential). Needs the metadata database to list keys: a no-op inside tasks. Returns how many went."""
    from airflow_provider_sf360.store.variables import MetadataDbVariables

    if not isinstance(variables, MetadataDbVariables):
        return 0
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    moment = time.time() if now is None else now
    removed = 0
    with create_session() as session:
        rows = session.scalars(select(Variable).where(Variable.key.startswith(PENDING_PREFIX, autoescape=True)))
        for row in rows:
            try:
                pending = json.loads(row.val or "{}")
                expired = float(pending.get("expires_at", 0)) < moment
                mine = also_state_key is not None and pending.get("state_key") == also_state_key
            except (TypeError, ValueError):
                expired, mine = True, False
            if expired or mine:
                session.delete(row)
                removed += 1
    return removed
