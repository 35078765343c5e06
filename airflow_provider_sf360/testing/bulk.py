"""Bulk API 2.0 ingest jobs on the instance host, shaped after what simple-salesforce 1.12.10's
``bulk2`` sends (salesforce.md section 9 names the library): create job (POST ``jobs/ingest``),
upload CSV (PUT ``jobs/ingest/<id>/batches``, 201), close (PATCH ``{"state": "UploadComplete"}``),
poll (GET ``jobs/ingest/<id>``), results (GET ``successfulResults/``, ``failedResults/``,
``unprocessedrecords/``). Jobs are processed synchronously when closed, so the first poll sees
``JobComplete``. Query jobs (``jobs/query``) are not emulated.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

from airflow_provider_sf360.testing.messages import Request, Response, invalid_session, json_response, rest_error
from airflow_provider_sf360.testing.rest import authenticate, canonical_type, new_record_id, table
from airflow_provider_sf360.testing.state import AccessToken, World, random_id

_PATH = re.compile(r"^/services/data/v(?P<v>\d+\.\d)/jobs/ingest(?:/(?P<id>[^/]+))?(?:/(?P<sub>[^/]+))?/?$")
OPERATIONS = ("insert", "upsert", "update", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _info(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def handle(world: World, req: Request) -> Response:
    m = _PATH.match(req.path)
    if not m:
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    with world.lock:
        tok = authenticate(world, req)
        if tok is None:
            return invalid_session()
        job_id, sub = m.group("id"), m.group("sub")
        if job_id is None:
            if req.method == "POST":
                return _create(world, req, tok, m.group("v"))
            if req.method == "GET":
                jobs = [_info(j) for j in world.jobs.values() if j["_org"] == tok.org_id]
                return json_response(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
            return rest_error(405, "METHOD_NOT_ALLOWED", "Method not allowed")
        job = world.jobs.get(job_id)
        if job is None or job["_org"] != tok.org_id:
            return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        if sub is None:
            return _job(world, req, job)
        if sub == "batches" and req.method == "PUT":
            if job["state"] != "Open":
                return rest_error(409, "INVALIDJOBSTATE", f"Job is in state {job['state']}: upload not allowed")
            job["_data"].append(req.body.decode("utf-8-sig"))
            return Response(201)
        if req.method == "GET" and sub in ("successfulResults", "failedResults", "unprocessedrecords"):
            rows = {"successfulResults": job["_ok"], "failedResults": job["_failed"],
                    "unprocessedrecords": job["_unprocessed"]}[sub]
            return Response(200, rows.encode(), {"Content-Type": "text/csv"})
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _create(world: World, req: Request, tok: AccessToken, version: str) -> Response:
    try:
        spec = req.json()
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        return rest_error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
    sobject = canonical_type(str(spec.get("object", "")))
    operation = spec.get("operation")
    if sobject is None:
        return rest_error(400, "INVALIDJOB", f"InvalidJob : Invalid object: {spec.get('object')}")
    if operation not in OPERATIONS:
        return rest_error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    if operation == "upsert" and not spec.get("externalIdFieldName"):
        return rest_error(400, "INVALIDJOB", "InvalidJob : External ID was blank for upsert")
    delimiter = spec.get("columnDelimiter", "COMMA")
    if delimiter not in DELIMITERS:
        return rest_error(400, "INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
    job_id = random_id("750")
    now = _now_iso()
    job: dict[str, Any] = {
        "id": job_id, "operation": operation, "object": sobject, "createdById": tok.user_id,
        "createdDate": now, "systemModstamp": now, "state": "Open", "concurrencyMode": "Parallel",
        "contentType": "CSV", "apiVersion": float(version),
        "contentUrl": f"services/data/v{version}/jobs/ingest/{job_id}/batches",
        "lineEnding": spec.get("lineEnding", "LF"), "columnDelimiter": delimiter,
        "numberRecordsProcessed": 0, "numberRecordsFailed": 0, "retries": 0, "totalProcessingTime": 0,
        "_org": tok.org_id, "_data": [], "_ok": "", "_failed": "", "_unprocessed": "",
    }
    if spec.get("externalIdFieldName"):
        job["externalIdFieldName"] = spec["externalIdFieldName"]
    world.jobs[job_id] = job
    return json_response(200, _info(job))


def _job(world: World, req: Request, job: dict[str, Any]) -> Response:
    if req.method == "GET":
        return json_response(200, _info(job))
    if req.method == "DELETE":
        del world.jobs[job["id"]]
        return Response(204)
    if req.method != "PATCH":
        return rest_error(405, "METHOD_NOT_ALLOWED", "Method not allowed")
    try:
        state = (req.json() or {}).get("state")
    except (ValueError, AttributeError):
        state = None
    if state == "Aborted":
        job["state"] = "Aborted"
        return json_response(200, _info(job))
    if state != "UploadComplete" or job["state"] != "Open":
        return rest_error(400, "INVALIDJOBSTATE", f"Invalid state change from {job['state']} to {state}")
    job["state"] = "UploadComplete"
    answer = _info(job)
    _process(world, job)
    return json_response(200, answer)


def _process(world: World, job: dict[str, Any]) -> None:
    """Apply every uploaded row; record per-row results like Salesforce's result CSVs."""
    records = table(world, job["_org"], job["object"])
    delim = DELIMITERS[job["columnDelimiter"]]
    op, ext = job["operation"], job.get("externalIdFieldName", "")
    ok_rows: list[list[str]] = []
    failed_rows: list[list[str]] = []
    header: list[str] = []
    index: dict[str, str] = {}
    if op == "upsert" and ext != "Id":
        index = {str(r.get(ext)): rid for rid, r in records.items() if r.get(ext) not in (None, "")}
    for chunk in job["_data"]:
        reader = csv.reader(io.StringIO(chunk, newline=""), delimiter=delim)
        chunk_header = next(reader, [])
        header = header or chunk_header
        for row in reader:
            if not row:
                continue
            values = dict(zip(chunk_header, row, strict=False))
            # Bulk 2.0: an empty value leaves the field unchanged; #N/A sets it to null.
            fields = {k: (None if v == "#N/A" else v) for k, v in values.items() if v != ""}
            rec_id, created, error = _apply(job["object"], records, index, op, ext, fields)
            if error:
                failed_rows.append([rec_id, error, *row])
            else:
                ok_rows.append([rec_id, "true" if created else "false", *row])
    job["_ok"] = _csv(["sf__Id", "sf__Created", *header], ok_rows)
    job["_failed"] = _csv(["sf__Id", "sf__Error", *header], failed_rows)
    job["_unprocessed"] = _csv(header, [])
    job["numberRecordsProcessed"] = len(ok_rows) + len(failed_rows)
    job["numberRecordsFailed"] = len(failed_rows)
    job["state"] = "JobComplete"
    job["systemModstamp"] = _now_iso()
    job["_data"] = []


def _apply(
    sobject: str, records: dict[str, dict[str, Any]], index: dict[str, str], op: str, ext: str,
    fields: dict[str, Any],
) -> tuple[str, bool, str]:
    """One row → (record id, created, error text or '')."""
    rec_id = str(fields.get("Id") or "")
    if op == "insert":
        if rec_id:
            return "", False, "INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: Id:Id --"
        new_id = new_record_id(sobject)
        records[new_id] = {"Id": new_id, **fields}
        return new_id, True, ""
    if op in ("update", "delete", "hardDelete") or ext == "Id":
        if rec_id not in records:
            code = "ENTITY_IS_DELETED:entity is deleted" if op != "update" else (
                "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id")
            return rec_id, False, f"{code}:--"
        if op in ("delete", "hardDelete"):
            del records[rec_id]
        else:
            records[rec_id].update({k: v for k, v in fields.items() if k != "Id"})
        return rec_id, False, ""
    key = fields.get(ext)
    if key in (None, ""):
        return "", False, f"MISSING_ARGUMENT:{ext} not specified:--"
    existing = index.get(str(key))
    if existing and existing in records:
        records[existing].update(fields)
        return existing, False, ""
    new_id = new_record_id(sobject)
    records[new_id] = {"Id": new_id, **fields}
    index[str(key)] = new_id
    return new_id, True, ""


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
