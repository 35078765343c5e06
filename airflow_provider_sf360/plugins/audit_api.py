"""The audit route tasks call: ``POST /sf360/api/audit`` writes one audit-log entry for a task.

Tasks may not use the ORM, so they send their entry here (``store/audit.py``) with a proof of possession of one
of the sf360 connection's secrets (Consumer Secret, else Private Key, else Refresh Token): an HMAC over the
canonical encoding of every field (``event``, ``conn_id``, ``outcome``, ``dag_id``, ``task_id``, ``run_id``,
``message``; ``null`` apart from ``""``), a timestamp and a fresh nonce (``core/proof.py``).

Order of the checks: the body's shape (at most :data:`MAX_BODY_BYTES`, exactly these fields, strict types,
a known event and outcome: else 422 with one fixed body), the time window and the nonces this process accepted
(no lookup), then the one lookup verification needs: the named connection in the metadata DB, read only if it is
of type ``sf360`` (no other type's secret ever proves an entry). Every refusal is one answer: 403 with one fixed
body. An accepted nonce is remembered for the proof window in this process, and kept in the row's ``extra``: an
entry whose nonce is already in the audit log of the last windows is refused, so a replay to another api-server
replica is refused too (two replicas receiving the same entry in the same instant could both write it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import anyio
from airflow.models.connection import Connection
from airflow.models.log import Log
from airflow.utils.session import create_session
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.core.proof import (
    MAX_TIMESTAMP,
    NONCE_PATTERN,
    PROOF_PATTERN,
    PROOF_WINDOW_SECONDS,
    SeenNonces,
    proof_is_valid,
    timestamp_is_fresh,
)
from airflow_provider_sf360.plugins.renewal_api import read_capped_body
from airflow_provider_sf360.store import audit

log = logging.getLogger(__name__)

router = APIRouter()

MAX_BODY_BYTES = 16_384  # a 500-character message, every character escaped, and the other fields
AUDIT_THREADS = 4  # entries verified and written at once (the rest wait without a thread)
REFUSED_DETAIL = "Audit entry refused: the request does not carry a valid proof for this connection."
MALFORMED_DETAIL = "Malformed audit entry."

_seen_nonces = SeenNonces()
_threads: anyio.CapacityLimiter | None = None


class AuditClaim(BaseModel):
    """One audit entry sent by a task, with its proof of holding one of the connection's secrets."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event: str = Field(max_length=40)
    conn_id: str = Field(min_length=1, max_length=250)
    outcome: str = Field(max_length=20)
    dag_id: str | None = Field(max_length=250)
    task_id: str | None = Field(max_length=250)
    run_id: str | None = Field(max_length=250)
    message: str | None = Field(max_length=audit.MAX_MESSAGE_CHARS)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    nonce: str = Field(pattern=NONCE_PATTERN)
    proof: str = Field(pattern=PROOF_PATTERN)

    def entry_fields(self) -> dict[str, str | None]:
        """The signed fields of the entry (``audit.AUDIT_FIELDS``)."""
        return {key: getattr(self, key) for key in audit.AUDIT_FIELDS}


def _answer(http_status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=http_status, headers={"Cache-Control": "no-store"})


def parse_audit_claim(body: bytes) -> AuditClaim | None:
    """The entry in a request body, or None when it is not exactly a well-formed audit entry.

    :param body: the raw request body.
    """
    try:
        data = json.loads(body)
        claim = AuditClaim.model_validate(data) if isinstance(data, dict) else None
    except (ValueError, RecursionError, ValidationError):
        return None
    if claim is None or claim.event not in audit.EVENTS or claim.outcome not in audit.OUTCOMES:
        return None
    return claim


def _sf360_secret(conn_id: str) -> str | None:
    """The secret an entry about ``conn_id`` is proven with; None unless it is an sf360 connection in the DB."""
    with create_session() as session:
        conn = session.scalars(
            select(Connection).where(Connection.conn_id == conn_id, Connection.conn_type == CONN_TYPE)
        ).one_or_none()
        return audit.audit_secret(conn.password, conn.extra_dejson) if conn is not None else None


def _already_recorded(claim: AuditClaim, now: float) -> bool:
    """Whether an entry with this nonce is in the audit log already (written by any api-server replica)."""
    since = dt.datetime.fromtimestamp(now - 2 * PROOF_WINDOW_SECONDS, tz=dt.timezone.utc)
    with create_session() as session:
        found = session.scalar(select(Log.id).where(
            Log.event == audit.EVENT_PREFIX + claim.event, Log.dttm >= since,
            Log.extra.contains(f'"nonce": "{claim.nonce}"'),
        ).limit(1))
    return found is not None


def record_task_entry(claim: AuditClaim, now: float) -> bool:
    """Verify the entry's proof and write its row; False (nothing written) when refused. Blocking.

    :param claim: a well-formed entry whose time and nonce passed.
    :param now: the server's clock when it arrived.
    """
    try:
        secret = _sf360_secret(claim.conn_id)
    except Exception as error:  # e.g. a password that cannot be decrypted
        log.warning("sf360 audit: the connection could not be read (%s)", type(error).__name__)
        return False
    if secret is None or not proof_is_valid(
        claim.proof, secret, purpose=audit.PROOF_PURPOSE, fields=claim.entry_fields(),
        timestamp=claim.timestamp, nonce=claim.nonce, now=now,
    ):
        return False
    if not _seen_nonces.accept(claim.nonce, claim.timestamp, now) or _already_recorded(claim, now):
        return False
    audit.write_log_row(claim.entry_fields(), user=f"task:{claim.dag_id}.{claim.task_id}", source="task",
                        nonce=claim.nonce)
    return True


def _limiter() -> anyio.CapacityLimiter:
    global _threads
    if _threads is None:
        _threads = anyio.CapacityLimiter(AUDIT_THREADS)
    return _threads


@router.post("/api/audit", name="audit")
async def record_task_audit(request: Request) -> JSONResponse:
    """Tasks write audit entries here (they may not use the ORM); authenticated by proof of possession."""
    body = await read_capped_body(request, MAX_BODY_BYTES)
    claim = parse_audit_claim(body) if body is not None else None
    if claim is None:
        return _answer(422, MALFORMED_DETAIL)
    now = time.time()
    if not timestamp_is_fresh(claim.timestamp, now) or claim.nonce in _seen_nonces:
        return _answer(403, REFUSED_DETAIL)
    if not await anyio.to_thread.run_sync(record_task_entry, claim, now, limiter=_limiter()):
        return _answer(403, REFUSED_DETAIL)
    return _answer(200, "recorded")
