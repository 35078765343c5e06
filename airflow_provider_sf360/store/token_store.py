"""One credential's token state in Airflow Variables (implements ``core.lifecycle.StateStore``).

Keys are derived from the credential's identity (org, user, app), never from the conn id, so that the
connection form's Test button (which runs under a temporary conn id) sees the same token as tasks.
Every key names a token or secret, so Airflow masks the values in its UI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any

from airflow_provider_sf360.core.lifecycle import PendingAuthorization
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.store.locks import CredentialLock
from airflow_provider_sf360.store.variables import VariableBackend

MaskFn = Callable[[str], None]


class VariableTokenStore:
    """Token state, last test result, pending web-flow verifiers and the credential lock."""

    def __init__(self, state_key: str, variables: VariableBackend, mask: MaskFn, lock: CredentialLock | None = None):
        self.state_key = state_key
        self.status_key = state_key.replace("sf360_token__", "sf360_status__", 1)
        self.variables = variables
        self.mask = mask
        self.lock = lock or CredentialLock(state_key, variables)

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

    def locked(self) -> AbstractContextManager[None]:
        return self.lock.hold()

    def locked_on_host(self) -> AbstractContextManager[None]:
        return self.lock.hold_on_host()

    @staticmethod
    def _pending_key(state_param: str) -> str:
        return "sf360_pkce_secret__" + hashlib.sha256(state_param.encode()).hexdigest()[:40]

    def save_pending(self, state_param: str, pending: PendingAuthorization) -> None:
        self.mask(pending.code_verifier)
        self.variables.set(
            self._pending_key(state_param), json.dumps(asdict(pending)), "sf360: pending OAuth authorization"
        )

    def pop_pending(self, state_param: str) -> PendingAuthorization | None:
        key = self._pending_key(state_param)
        raw = self.variables.get(key)
        if not raw:
            return None
        self.variables.delete(key)  # single use
        pending = PendingAuthorization(**json.loads(raw))
        self.mask(pending.code_verifier)
        return pending

    def load_test_record(self) -> dict[str, Any] | None:
        raw = self.variables.get(self.status_key)
        return json.loads(raw) if raw else None

    def save_test_record(self, record: dict[str, Any]) -> None:
        self.variables.set(self.status_key, json.dumps(record, default=str), "sf360: last access test (managed)")

    def clear_test_record(self) -> None:
        self.variables.delete(self.status_key)
