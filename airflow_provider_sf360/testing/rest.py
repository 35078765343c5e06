"""REST API on the instance (My Domain) host: versions, limits, query, sobjects (salesforce.md section 9
describes the client side: simple-salesforce builds ``{instance}/services/data/vXX.X/...`` URLs).

Dead, expired, revoked or foreign-org tokens get 401 with the section 5 JSON array body.
Error bodies are the REST shape ``[{"message", "errorCode"}]`` (section 5).
"""

from __future__ import annotations

import re
import secrets
import string
import zlib
from typing import Any
from urllib.parse import unquote

from airflow_provider_sf360.core.ids import InvalidSalesforceIdError, canonical_id
from airflow_provider_sf360.testing import soql
from airflow_provider_sf360.testing.config import API_VERSION
from airflow_provider_sf360.testing.messages import (
    Request,
    Response,
    invalid_session,
    json_response,
    rest_error,
)
from airflow_provider_sf360.testing.state import AccessToken, World, random_id

#: Key prefixes (salesforce.md section 8 lists 001, 003, 006, 00Q, 005, 00D; the rest are the usual ones).
KEY_PREFIXES = {
    "Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "User": "005",
    "Organization": "00D", "Case": "500", "Task": "00T", "Event": "00U", "Campaign": "701",
    "Product2": "01t", "Pricebook2": "01s", "Order": "801", "Contract": "800", "Asset": "02i",
}
PAGE_SIZE = 2000
_B62 = string.ascii_letters + string.digits
_VERSION_PATH = re.compile(r"^/services/data/v(?P<v>\d+\.\d)(?P<rest>/.*)?$")


def versions() -> list[dict[str, str]]:
    """``GET /services/data/``: API versions (no authentication needed)."""
    seasons = ["Winter", "Spring", "Summer"]  # v59.0 = Winter '24, three releases a year
    out = []
    for n in range(31, int(float(API_VERSION)) + 1):
        offset = n - 59
        out.append({"label": f"{seasons[offset % 3]} '{24 + offset // 3:02d}", "url": f"/services/data/v{n}.0",
                    "version": f"{n}.0"})
    return out


def key_prefix(sobject: str) -> str:
    """Standard prefix, or a stable ``a0X`` style prefix for custom objects."""
    if sobject in KEY_PREFIXES:
        return KEY_PREFIXES[sobject]
    return "a0" + _B62[zlib.crc32(sobject.lower().encode()) % 62]


def new_record_id(sobject: str) -> str:
    return random_id(key_prefix(sobject))


def canonical_type(sobject: str) -> str | None:
    """Known object name in canonical case: standard objects and any ``__c`` custom object."""
    for name in KEY_PREFIXES:
        if name.lower() == sobject.lower():
            return name
    if sobject.lower().endswith("__c") and len(sobject) > 3:
        return sobject
    return None


def authenticate(world: World, req: Request) -> AccessToken | None:
    """A live session of the org whose My Domain host received the request (section 5)."""
    tok = world.session_alive(req.bearer())
    if tok is None or req.host.kind != "mydomain" or not world.host_serves_org(req.host, tok.org_id):
        return None
    world.api_requests[tok.org_id] = world.api_requests.get(tok.org_id, 0) + 1
    return tok


def table(world: World, org_id: str, sobject: str) -> dict[str, dict[str, Any]]:
    """Records of one type. ``User`` and ``Organization`` are synthesised from the configured world."""
    if sobject == "User":
        return {u.user_id: {"Id": u.user_id, "Username": u.username, "Name": u.name, "Email": u.email,
                            "IsActive": u.active} for u in world.users.values() if u.org_id == org_id}
    if sobject == "Organization":
        org = world.orgs[org_id]
        return {org.org_id: {"Id": org.org_id, "Name": org.name, "IsSandbox": org.is_sandbox,
                             "OrganizationType": "Enterprise Edition"}}
    return world.records.setdefault(org_id, {}).setdefault(sobject, {})


def _invalid_type(sobject: str) -> Response:
    return rest_error(404, "NOT_FOUND", "The requested resource does not exist") if not sobject else rest_error(
        400, "INVALID_TYPE",
        f"sObject type '{sobject}' is not supported. If you are attempting to use a custom object, be sure to "
        "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def handle(world: World, req: Request) -> Response:
    """Dispatch ``/services/data/...`` (except Bulk 2.0, see :mod:`bulk`)."""
    if req.path.rstrip("/") == "/services/data":
        return json_response(200, versions())
    m = _VERSION_PATH.match(req.path)
    if not m:
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    version, rest = m.group("v"), (m.group("rest") or "/").strip("/")
    with world.lock:
        tok = authenticate(world, req)
        if tok is None:
            return invalid_session()
        parts = rest.split("/") if rest else []
        if not parts:
            return json_response(200, {k: f"/services/data/v{version}/{k}"
                                       for k in ("sobjects", "query", "queryAll", "limits", "jobs")})
        head = parts[0]
        if head == "limits" and req.method == "GET":
            used = world.api_requests.get(tok.org_id, 0)
            return json_response(200, {
                "DailyApiRequests": {"Max": 15000, "Remaining": max(0, 15000 - used)},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
            })
        if head in ("query", "queryAll") and req.method == "GET":
            return _query(world, tok, version, parts[1:], req.query.get("q", ""))
        if head == "sobjects":
            return _sobjects(world, req, tok, version, parts[1:])
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _render(sobject: str, version: str, rec: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": sobject,
                                          "url": f"/services/data/v{version}/sobjects/{sobject}/{rec['Id']}"}}
    if fields is None:
        out.update(rec)
    else:
        for f in fields:
            out[f] = soql.get_field(rec, f)
    return out


def _query(world: World, tok: AccessToken, version: str, more: list[str], q: str) -> Response:
    cursors = world.query_cursors
    if more:  # nextRecordsUrl: /services/data/vXX.X/query/<cursor>-<offset>
        cursor_id, _, offset_text = more[0].rpartition("-")
        rows = cursors.get(cursor_id)
        if rows is None or not offset_text.isdigit():
            return rest_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return _page(cursors, cursor_id, rows, int(offset_text), version)
    try:
        query = soql.parse(q)
    except soql.SoqlError as exc:
        return rest_error(400, "MALFORMED_QUERY", str(exc))
    sobject = canonical_type(query.sobject)
    if sobject is None:
        return _invalid_type(query.sobject)
    rows = soql.run(query, list(table(world, tok.org_id, sobject).values()))
    if query.count:
        return json_response(200, {"totalSize": len(rows), "done": True, "records": []})
    rendered = [_render(sobject, version, r, query.fields) for r in rows]
    cursor_id = "01g" + secrets.token_hex(6)
    return _page(cursors, cursor_id, rendered, 0, version)


def _page(
    cursors: dict[str, list[dict[str, Any]]], cursor_id: str, rows: list[dict[str, Any]], offset: int, version: str
) -> Response:
    chunk = rows[offset: offset + PAGE_SIZE]
    body: dict[str, Any] = {"totalSize": len(rows), "done": offset + PAGE_SIZE >= len(rows), "records": chunk}
    if not body["done"]:
        cursors[cursor_id] = rows
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{offset + PAGE_SIZE}"
    else:
        cursors.pop(cursor_id, None)
    return json_response(200, body)


def describe(world: World, org_id: str, sobject: str) -> dict[str, Any]:
    """Fields = Id, Name and every field seen on stored records."""
    names = ["Id", "Name"]
    for rec in table(world, org_id, sobject).values():
        names.extend(k for k in rec if k not in names)
    fields = [{"name": n, "label": n, "type": "id" if n == "Id" else "string", "nillable": n != "Id",
               "createable": n != "Id", "updateable": n != "Id", "externalId": n.endswith("__c"),
               "custom": n.endswith("__c")} for n in names]
    return {"name": sobject, "label": sobject, "keyPrefix": key_prefix(sobject), "custom": sobject.endswith("__c"),
            "createable": True, "updateable": True, "deletable": True, "queryable": True, "fields": fields,
            "urls": {"sobject": f"/services/data/v{API_VERSION}/sobjects/{sobject}"}}


def _sobjects(world: World, req: Request, tok: AccessToken, version: str, parts: list[str]) -> Response:
    if not parts:
        types = sorted({*KEY_PREFIXES, *world.records.get(tok.org_id, {})})
        return json_response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            {"name": t, "label": t, "keyPrefix": key_prefix(t), "custom": t.endswith("__c"),
             "urls": {"sobject": f"/services/data/v{version}/sobjects/{t}"}} for t in types]})
    sobject = canonical_type(parts[0])
    if sobject is None:
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    records = table(world, tok.org_id, sobject)
    body = _json_body(req)
    if len(parts) == 1:
        if req.method == "GET":
            return json_response(200, {"objectDescribe": describe(world, tok.org_id, sobject), "recentItems": []})
        if req.method == "POST":
            if not isinstance(body, dict):
                return rest_error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
            if "Id" in body:
                return rest_error(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                                  "Unable to create/update fields: Id. Please check the security settings of this "
                                  "field and verify that it is read/write for your profile or permission set.",
                                  ["Id"])
            rec_id = new_record_id(sobject)
            records[rec_id] = {"Id": rec_id, **body}
            return json_response(201, {"id": rec_id, "success": True, "errors": []})
        return _not_allowed(req, "GET,POST")
    if len(parts) == 2 and parts[1] == "describe":
        return json_response(200, describe(world, tok.org_id, sobject))
    if len(parts) == 2:
        return _by_id(req, records, sobject, version, parts[1], body)
    if len(parts) == 3:
        return _by_external_id(req, records, sobject, version, parts[1], parts[2], body)
    return rest_error(404, "NOT_FOUND", "The requested resource does not exist")


def _not_allowed(req: Request, allowed: str) -> Response:
    return rest_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are {allowed}")


def _json_body(req: Request) -> Any:
    try:
        return req.json() if req.body else None
    except ValueError:
        return None


def _by_id(req: Request, records: dict[str, dict[str, Any]], sobject: str, version: str, rec_id: str,
           body: Any) -> Response:

    try:
        key = canonical_id(rec_id)
    except InvalidSalesforceIdError:
        key = rec_id
    rec = records.get(key)
    if rec is None:
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    if req.method == "GET":
        fields = req.query.get("fields")
        return json_response(200, _render(sobject, version, rec, fields.split(",") if fields else None))
    if req.method == "PATCH":
        if not isinstance(body, dict):
            return rest_error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        rec.update({k: v for k, v in body.items() if k != "Id"})
        return Response(204)
    if req.method == "DELETE":
        del records[key]
        return Response(204)
    return _not_allowed(req, "GET,PATCH,DELETE")


def find_by_field(records: dict[str, dict[str, Any]], field_name: str, value: str) -> list[dict[str, Any]]:
    return [r for r in records.values() if str(soql.get_field(r, field_name)) == value]


def _by_external_id(req: Request, records: dict[str, dict[str, Any]], sobject: str, version: str, field_name: str,
                    value: str, body: Any) -> Response:
    """Upsert/get/delete by external ID: ``/sobjects/<Type>/<Field>/<value>`` (201 created, 204 updated)."""

    value = unquote(value)
    found = find_by_field(records, field_name, value)
    if len(found) > 1:
        return json_response(300, [f"/services/data/v{version}/sobjects/{sobject}/{r['Id']}" for r in found])
    if req.method == "GET":
        if not found:
            return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        return json_response(200, _render(sobject, version, found[0], None))
    if req.method == "DELETE":
        if not found:
            return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        del records[found[0]["Id"]]
        return Response(204)
    if req.method != "PATCH":
        return _not_allowed(req, "GET,PATCH,DELETE")
    if not isinstance(body, dict):
        return rest_error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
    if found:
        found[0].update({k: v for k, v in body.items() if k != "Id"})
        return Response(204)
    if field_name == "Id":
        return rest_error(404, "NOT_FOUND", "The requested resource does not exist")
    rec_id = new_record_id(sobject)
    records[rec_id] = {"Id": rec_id, **body, field_name: value}
    return json_response(201, {"id": rec_id, "success": True, "errors": [], "created": True})
