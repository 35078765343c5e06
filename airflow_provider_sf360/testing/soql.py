"""A small SOQL subset: ``SELECT f1, f2 | COUNT() FROM Obj [WHERE f op lit [AND ...]] [ORDER BY f [ASC|DESC]]
[LIMIT n]`` with ``=`` and ``!=`` on string, number, boolean and null literals.

Anything else raises :class:`SoqlError` (the REST layer turns it into 400 ``MALFORMED_QUERY``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[A-Za-z_][A-Za-z0-9_.]*)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>!=|=)\s*"
    r"(?P<lit>'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|true|false|null)\s*",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class SoqlError(ValueError):
    """Unsupported or malformed query."""


@dataclass
class Condition:
    field: str
    op: str
    value: Any


@dataclass
class Query:
    sobject: str
    fields: list[str]
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order_by: str = ""
    descending: bool = False
    limit: int | None = None


def _literal(text: str) -> Any:
    low = text.lower()
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return float(text) if "." in text else int(text)


def parse(soql: str) -> Query:
    m = _QUERY.match(soql)
    if not m:
        raise SoqlError("unexpected token: the emulator supports SELECT ... FROM ... [WHERE] [ORDER BY] [LIMIT]")
    raw_fields = [f.strip() for f in m.group("fields").split(",")]
    count = len(raw_fields) == 1 and raw_fields[0].replace(" ", "").upper() == "COUNT()"
    if not count and not all(_FIELD.match(f) for f in raw_fields):
        raise SoqlError(f"unexpected token in field list: {m.group('fields')!r}")
    where: list[Condition] = []
    if m.group("where"):
        for part in re.split(r"\s+AND\s+", m.group("where"), flags=re.IGNORECASE):
            c = _COND.fullmatch(part)
            if not c:
                raise SoqlError(f"unexpected token in WHERE: {part.strip()!r}")
            where.append(Condition(c.group("field"), c.group("op"), _literal(c.group("lit"))))
    return Query(
        sobject=m.group("obj"),
        fields=[] if count else raw_fields,
        count=count,
        where=where,
        order_by=m.group("order") or "",
        descending=(m.group("dir") or "").upper() == "DESC",
        limit=int(m.group("limit")) if m.group("limit") else None,
    )


def get_field(record: dict[str, Any], name: str) -> Any:
    """Field value, names compared case-insensitively like Salesforce."""
    if name in record:
        return record[name]
    low = name.lower()
    return next((v for k, v in record.items() if k.lower() == low), None)


def _equal(stored: Any, literal: Any) -> bool:
    if literal is None:
        return stored is None or stored == ""
    if isinstance(literal, bool):
        return str(stored).lower() == str(literal).lower()
    if isinstance(literal, (int, float)):
        try:
            return float(stored) == float(literal)
        except (TypeError, ValueError):
            return False
    return stored is not None and str(stored) == literal


def matches(record: dict[str, Any], conditions: list[Condition]) -> bool:
    for c in conditions:
        eq = _equal(get_field(record, c.field), c.value)
        if eq != (c.op == "="):
            return False
    return True


def run(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filter, order and limit ``records``."""
    rows = [r for r in records if matches(r, query.where)]
    if query.order_by:
        rows.sort(key=lambda r: (get_field(r, query.order_by) is None, str(get_field(r, query.order_by) or "")),
                  reverse=query.descending)
    if query.limit is not None:
        rows = rows[: query.limit]
    return rows
