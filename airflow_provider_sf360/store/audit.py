"""Who did what to which sf360 connection, in Airflow's audit log (``airflow.models.log.Log``).

Every action from the page, the CLI and the operators (set up, authorization completed or denied, reset, test
access, delete, prune) is one ``Log`` row: ``event`` ``sf360.<action>``, ``owner`` the Airflow user (or the
CLI's ``cli:<os user>``), ``dag_id``/``task_id``/``run_id`` for tasks, and ``extra`` a JSON object with the
connection id, the outcome and a short non-secret message. Admins find it in Airflow's Audit Log view and at
``/api/v2/eventLogs?event_pattern=sf360``.

Server-side processes (api-server, CLI) write the row through the ORM. Tasks may not use the ORM, so from a task
the row is sent to the plugin route ``POST /sf360/api/audit``, authenticated by proof of possession of one of the
connection's secrets (``core/proof.py``; nothing secret travels). A connection without any secret field cannot
prove anything: its task-side entries are skipped with a log line.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

EVENT_PREFIX = "sf360."
EVENTS = (
    "setup", "authorization_completed", "authorization_denied", "reset", "test_access", "delete", "prune", "keygen",
    "share",
)
OUTCOMES = ("success", "failed", "refused", "started")
AUDIT_ROUTE = "/audit"
PROOF_PURPOSE = "audit"
MAX_MESSAGE_CHARS = 500
MAX_FIELD_CHARS = 250


def audit_secret(password: str | None, extra: dict[str, Any]) -> str | None:
    """The connection secret a task proves it holds: Consumer Secret, else Private Key, else Refresh Token.

    :param password: the connection's password field (Consumer Secret).
    :param extra: the connection's extra fields.
    """
    for value in (password, extra.get("private_key"), extra.get("refresh_token")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def proof_subject(fields: dict[str, Any]) -> str:
    """What a task's proof covers: every field of the entry, so none can be swapped."""
    keys = ("event", "conn_id", "outcome", "dag_id", "task_id", "run_id", "message")
    return "\n".join(str(fields.get(key) or "") for key in keys)


def record_action(
    event: str,
    conn_id: str,
    outcome: str,
    *,
    user: str | None = None,
    message: str | None = None,
    source: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
) -> None:
    """Write one audit-log entry; never raises (an audit failure is logged, the action's result stands).

    :param event: one of ``EVENTS`` (stored as ``sf360.<event>``).
    :param conn_id: the connection (or, for prune, the orphaned state key) acted on.
    :param outcome: ``success``, ``failed`` or ``refused``.
    :param user: the Airflow user name, or ``cli:<os user>``.
    :param message: a short message for the admin; must hold no secret (the provider's messages hold none).
    :param source: ``page``, ``cli`` or ``task``.
    :param dag_id: the DAG of the task that acted (tasks only).
    :param task_id: the task that acted (tasks only).
    :param run_id: the DAG run of the task that acted (tasks only).
    """
    from airflow_provider_sf360.store.variables import running_in_task, running_in_test_supervisor

    fields = {
        "event": event, "conn_id": conn_id, "outcome": outcome, "dag_id": dag_id, "task_id": task_id,
        "run_id": run_id, "message": (message or "")[:MAX_MESSAGE_CHARS],
    }
    try:
        if running_in_task() and not running_in_test_supervisor():  # dag.test() runs in-process: DB at hand
            _send_from_task(fields)
        else:
            write_log_row(fields, user=user, source=source or "server")
    except Exception as error:  # the audit must never turn a done action into a failure
        log.warning("sf360: could not write the audit-log entry for %s on %s (%s)", event, conn_id,
                    type(error).__name__)


def write_log_row(fields: dict[str, Any], *, user: str | None, source: str) -> None:
    """The ``Log`` row itself (server side, ORM)."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    extra = {
        "conn_id": fields["conn_id"], "outcome": fields["outcome"], "source": source,
        "message": fields.get("message") or "",
    }
    with create_session() as session:
        session.add(Log(
            event=EVENT_PREFIX + str(fields["event"]),
            owner=(user or source)[:MAX_FIELD_CHARS],
            extra=json.dumps(extra),
            dag_id=fields.get("dag_id"),
            task_id=fields.get("task_id"),
            run_id=fields.get("run_id"),
        ))


def _send_from_task(fields: dict[str, Any]) -> None:
    from airflow.sdk import BaseHook

    from airflow_provider_sf360.core.proof import make_proof
    from airflow_provider_sf360.store.plugin_api import post_json

    conn = BaseHook.get_connection(str(fields["conn_id"]))
    secret = audit_secret(conn.password, conn.extra_dejson)
    if secret is None:
        log.info("sf360: %s on %s not sent to the audit log: the connection has no secret field to prove "
                 "the entry with.", fields["event"], fields["conn_id"])
        return
    timestamp = int(time.time())
    proof = make_proof(secret, purpose=PROOF_PURPOSE, subject=proof_subject(fields), timestamp=timestamp)
    answer = post_json(AUDIT_ROUTE, {**fields, "timestamp": timestamp, "proof": proof}, timeout=30)
    if answer.status != 200:
        log.warning("sf360: the audit-log entry for %s on %s was refused (HTTP %s: %s)",
                    fields["event"], fields["conn_id"], answer.status, answer.detail[:200])


def record_task_action(event: str, conn_id: str, ok: bool, message: str, context: Any) -> None:
    """:func:`record_action` for an operator: the DAG, task and run come from the task's context.

    :param event: the action (``ActionResult.action``).
    :param conn_id: the connection acted on.
    :param ok: whether the action succeeded.
    :param message: the action's message (no secret).
    :param context: the task's Airflow context.
    """
    ti = context.get("ti") if hasattr(context, "get") else None
    record_action(
        event, conn_id, "success" if ok else "failed", message=message, source="task",
        dag_id=getattr(ti, "dag_id", None), task_id=getattr(ti, "task_id", None), run_id=getattr(ti, "run_id", None),
    )
