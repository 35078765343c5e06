"""The audit route tasks post to (``POST /sf360/api/audit``): tasks may not use the ORM, so their audit-log
entries come here, authenticated by proof of possession of one of the connection's secrets (``core/proof.py``).
"""

from __future__ import annotations

import time

from airflow.models.connection import Connection
from airflow.utils.session import create_session
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.core.proof import proof_is_valid
from airflow_provider_sf360.store import audit

router = APIRouter()

class AuditEntry(BaseModel):
    """One audit entry sent by a task, with its proof of holding one of the connection's secrets."""

    event: str = Field(max_length=40)
    conn_id: str = Field(max_length=250)
    outcome: str = Field(max_length=20)
    dag_id: str | None = Field(default=None, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)
    run_id: str | None = Field(default=None, max_length=250)
    message: str = Field(default="", max_length=audit.MAX_MESSAGE_CHARS)
    timestamp: int
    proof: str = Field(max_length=64)


def _record_task_entry(entry: AuditEntry) -> int:
    """403 unless the proof was made with the connection's secret; 200 once the row is written."""
    if entry.event not in audit.EVENTS or entry.outcome not in audit.OUTCOMES:
        return 422
    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == entry.conn_id)).one_or_none()
        secret = audit.audit_secret(conn.password, conn.extra_dejson) if conn is not None else None
    fields = entry.model_dump()
    if secret is None or not proof_is_valid(
        entry.proof, secret, purpose=audit.PROOF_PURPOSE, subject=audit.proof_subject(fields),
        timestamp=entry.timestamp, now=time.time(),
    ):
        return 403
    audit.write_log_row(fields, user=f"task:{entry.dag_id}.{entry.task_id}", source="task")
    return 200


@router.post("/api/audit", name="audit")
async def record_task_audit(entry: AuditEntry) -> JSONResponse:
    """Tasks write audit entries here (they may not use the ORM); authenticated by proof of possession."""
    status = await run_in_threadpool(_record_task_entry, entry)
    detail = {200: "recorded", 403: "proof refused", 422: "unknown event or outcome"}[status]
    return JSONResponse({"detail": detail}, status_code=status)
