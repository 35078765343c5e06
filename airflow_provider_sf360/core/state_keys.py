"""The names of the Airflow Variables the provider keeps, in one place.

A connection's token lives under a key made from its connection id, never from its public fields (org, user,
app): anyone who may create a connection can copy those, but not the connection itself. The Variable is stored
under the connection's team (``[core] multi_team``). Every key names a token or secret, so Airflow masks the
values in its UI. Pure module, no Airflow import.
"""

from __future__ import annotations

import hashlib

TOKEN_PREFIX = "sf360_token__"  # the token state of one connection (or a link to the one it shares)
STATUS_PREFIX = "sf360_status__"  # the last access test of one connection
LOCK_PREFIX = "sf360_lock__"  # the row a renewal locks in the metadata database (holds no secret)
PENDING_PREFIX = "sf360_pkce_secret__"  # a web-flow sign-in between its two halves (its PKCE verifier)
MAX_KEY_LENGTH = 250  # Airflow's Variable.key column
_MAX_READABLE_CONN_ID = MAX_KEY_LENGTH - len(STATUS_PREFIX)  # the longest prefix of a key made from a conn id


def token_key(conn_id: str) -> str:
    """The Variable key of a connection's token state: its id when short enough, else a digest of it.

    :param conn_id: the Airflow connection id.
    """
    if len(conn_id) <= _MAX_READABLE_CONN_ID and conn_id.isascii() and conn_id.isprintable():
        return TOKEN_PREFIX + conn_id
    return TOKEN_PREFIX + "sha256-" + hashlib.sha256(conn_id.encode()).hexdigest()[:40]


def status_key(state_key: str) -> str:
    """The Variable key of the last access test that goes with a token state key."""
    return STATUS_PREFIX + state_key.removeprefix(TOKEN_PREFIX)


def lock_key(state_key: str) -> str:
    """The Variable key of the metadata-DB lock row that goes with a token state key."""
    return LOCK_PREFIX + state_key.removeprefix(TOKEN_PREFIX)


def pending_key(state_param: str) -> str:
    """The Variable key of a pending sign-in, from its OAuth ``state`` value (never the value itself)."""
    return PENDING_PREFIX + hashlib.sha256(state_param.encode()).hexdigest()[:40]


def is_token_key(key: str) -> bool:
    """Whether ``key`` names a token state Variable."""
    return key.startswith(TOKEN_PREFIX) and len(key) <= MAX_KEY_LENGTH
