"""One connection's token state in Airflow Variables (implements ``core.lifecycle.ActionStore``).

The token lives under a key made from the connection id (``core/state_keys.py``), so a connection reaches only
a token it set up itself, or one another connection shared with it on purpose: then its own key holds a
:class:`TokenLink` and the owner's state lists it in ``shared_with`` (:func:`resolve_token_key`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from airflow.models.variable import Variable as VariableModel
from airflow.utils.session import create_session
from cryptography.fernet import InvalidToken
from sqlalchemy import delete, select

from airflow_provider_sf360.core.errors import NotSetUpError
from airflow_provider_sf360.core.lifecycle import PendingAuthorization
from airflow_provider_sf360.core.state_keys import PENDING_PREFIX, pending_key, status_key, token_key
from airflow_provider_sf360.core.token_state import TokenLink, TokenState, read_stored
from airflow_provider_sf360.store.variables import MetadataDbVariables, VariableBackend, decrypted

MaskFn = Callable[[str], None]


@dataclass(frozen=True)
class ResolvedKey:
    """Where a connection's token lives: its own key, or the key of the connection that shared it."""

    state_key: str
    shared_from: str | None = None


def resolve_token_key(variables: VariableBackend, conn_id: str) -> ResolvedKey:
    """Find the token state a connection uses (its own Variable, and the owner's when it is a link).

    :param variables: where the connection's Variables are read.
    :param conn_id: the connection.
    :raises NotSetUpError: the connection links to a token whose owner no longer shares it with it.
    """
    own_key = token_key(conn_id)
    raw = variables.get(own_key)
    if not raw:
        return ResolvedKey(own_key)
    try:
        stored = read_stored(raw)
    except Exception:  # unreadable: the store says so on load, and reset/delete can still clear it
        return ResolvedKey(own_key)
    if not isinstance(stored, TokenLink):
        return ResolvedKey(own_key)
    owner_key = token_key(stored.shared_from)
    owner_raw = variables.get(owner_key)
    owner = _state_or_none(owner_raw)
    if owner is None or conn_id not in owner.shared_with:
        raise NotSetUpError(
            f"Connection {conn_id!r} was given the OAuth token of connection {stored.shared_from!r}, which no "
            f"longer shares it (it was reset, deleted or unshared). Set up the OAuth token of {conn_id!r}, or "
            f"share {stored.shared_from!r}'s token again (`sf360 share {stored.shared_from} {conn_id}`)."
        )
    return ResolvedKey(owner_key, shared_from=stored.shared_from)


def _state_or_none(raw: str | None) -> TokenState | None:
    try:
        stored = read_stored(raw) if raw else None
    except Exception:
        return None
    return stored if isinstance(stored, TokenState) else None


class VariableTokenStore:
    """Token state, last test result and pending web-flow verifiers of one credential.

    :param state_key: the token state's Variable key (see :func:`resolve_token_key`).
    :param variables: where Variables are read and written (Task SDK, metadata DB, or one DB session).
    :param mask: registers a secret with Airflow's log masker.
    """

    def __init__(self, state_key: str, variables: VariableBackend, mask: MaskFn) -> None:
        self.state_key = state_key
        self.status_key = status_key(state_key)
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
        stored = read_stored(raw)
        if isinstance(stored, TokenLink):
            return None  # a link is read through resolve_token_key; as a state it is "not set up"
        self._mask_tokens(stored)
        return stored

    def save(self, state: TokenState) -> None:
        self._mask_tokens(state)
        description = f"sf360: OAuth token of org {state.org_id} / user {state.user_id} (managed, do not edit)"
        self.variables.set(self.state_key, state.to_json(), description)

    def clear(self) -> None:
        self.variables.delete(self.state_key)

    def save_link(self, link: TokenLink) -> None:
        """Make this key point at another connection's token (the share action)."""
        self.variables.set(self.state_key, link.to_json(), f"sf360: uses the OAuth token of {link.shared_from}")

    def save_pending(self, state_param: str, pending: PendingAuthorization) -> None:
        self.mask(pending.code_verifier)
        self.variables.set(pending_key(state_param), json.dumps(asdict(pending)), "sf360: pending OAuth authorization")
        sweep_expired_pending(self.variables)

    def pop_pending(self, state_param: str) -> PendingAuthorization | None:
        key = pending_key(state_param)
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
    if not isinstance(variables, MetadataDbVariables):
        return 0
    moment = time.time() if now is None else now
    table = VariableModel.__table__
    with create_session() as session:
        rows = session.execute(
            select(table.c.id, table.c.val, table.c.is_encrypted)
            .where(table.c.key.startswith(PENDING_PREFIX, autoescape=True))
        ).all()
        gone = []
        for row_id, stored, is_encrypted in rows:
            try:
                pending = json.loads(decrypted(stored, bool(is_encrypted)) or "{}")
                expired = float(pending.get("expires_at", 0)) < moment
                mine = also_state_key is not None and pending.get("state_key") == also_state_key
            except (TypeError, ValueError, AttributeError, InvalidToken):
                expired, mine = True, False
            if expired or mine:
                gone.append(row_id)
        if gone:
            session.execute(delete(table).where(table.c.id.in_(gone)))
    return len(gone)
