"""Salesforce record IDs: the 15/18-character forms, the checksum and key prefixes.

Pure functions, no Airflow import. Algorithm: ``../shared/docs/salesforce.md`` section 8
(Salesforce knowledge article 000005995 and the public worked examples).
"""

from __future__ import annotations

import re

CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ORG_PREFIX = "00D"
USER_PREFIX = "005"

_ALNUM = re.compile(r"[A-Za-z0-9]+")
CHECKSUM_MISMATCH = (
    "checksum mismatch: its last 3 characters do not match the upper and lower case letters of the first 15 "
    "(a mistyped character or a changed case)"
)
_PREFIX_NAMES = {ORG_PREFIX: "Org ID", USER_PREFIX: "User ID"}


class InvalidSalesforceIdError(ValueError):
    """An ID that is not a well-formed Salesforce ID; the message says why and how to fix it."""


def checksum(id15: str) -> str:
    """Return the 3-character suffix that turns a 15-character ID into its 18-character form."""
    return "".join(
        CHECKSUM_ALPHABET[sum(1 << j for j, c in enumerate(id15[i : i + 5]) if "A" <= c <= "Z")]
        for i in (0, 5, 10)
    )


def to18(id15: str) -> str:
    """Append the checksum to a 15-character, case-sensitive ID."""
    return id15 + checksum(id15)


def _restore_case(id18: str) -> str:
    """Rebuild the original case of an 18-character ID typed in any case, from its checksum."""
    suffix = id18[15:].upper()
    chars = list(id18[:15].lower())
    for chunk, code in enumerate(suffix):
        if code not in CHECKSUM_ALPHABET:
            raise InvalidSalesforceIdError(f"its checksum character {code!r} is not valid")
        bits = CHECKSUM_ALPHABET.index(code)
        for j in range(5):
            if bits & (1 << j):
                pos = chunk * 5 + j
                if not chars[pos].isalpha():
                    raise InvalidSalesforceIdError(CHECKSUM_MISMATCH)
                chars[pos] = chars[pos].upper()
    return "".join(chars) + suffix


def _uniformly_cased(text: str) -> bool:
    """True when the letters of ``text`` are all lower case or all upper case (the case was changed wholesale)."""
    return text == text.lower() or text == text.upper()


def canonical_id(value: str) -> str:
    """Return the canonical 18-character form of a 15- or 18-character Salesforce ID.

    The rule, so that a typo is never turned into another record's ID:

    - 15 characters: case-sensitive, taken exactly as typed.
    - 18 characters whose last 3 characters (the checksum, compared case-insensitively) match the case of
      the first 15 as typed: accepted as typed.
    - 18 characters whose characters 4 to 15 (after the 3-character key prefix, often typed as ``00D``)
      are uniformly cased (all lower or all upper case letters, as when a tool or a person changed the case
      of the whole ID): the case is restored from the checksum, which is what the checksum is for. (A typo
      in the checksum of such an ID cannot be told from another ID; the identity check at setup then
      reports the other org or user.)
    - 18 characters in mixed case that disagree with their checksum: refused as a checksum mismatch, never
      rewritten, since the mixed case shows the typed case is meant.

    Surrounding whitespace is ignored.
    """
    text = value.strip()
    if not text:
        raise InvalidSalesforceIdError("it is empty")
    if not _ALNUM.fullmatch(text or "-"):
        raise InvalidSalesforceIdError("it may contain only the letters A-Z, a-z and the digits 0-9")
    if len(text) == 15:
        return to18(text)
    if len(text) != 18:
        raise InvalidSalesforceIdError(f"it has {len(text)} characters; a Salesforce ID has 15 or 18")
    body, suffix = text[:15], text[15:].upper()
    if checksum(body) == suffix:
        return body + suffix
    if not _uniformly_cased(body[3:]):
        raise InvalidSalesforceIdError(CHECKSUM_MISMATCH)
    restored = _restore_case(text)
    if to18(restored[:15]) != restored:
        raise InvalidSalesforceIdError(CHECKSUM_MISMATCH)
    return restored


def id_pattern(prefix: str) -> str:
    """A JSON-schema (ECMAScript) ``pattern`` for a 15- or 18-character ID with key ``prefix``, for forms.

    :param prefix: the 3-character key prefix, e.g. :data:`ORG_PREFIX`.
    """
    return f"^{prefix}[a-zA-Z0-9]{{12}}(?:[a-zA-Z0-9]{{3}})?$"


def _article(noun: str) -> str:
    return "an" if noun.startswith(("Org", "ID")) else "a"


def parse_id(value: str, prefix: str, field_label: str) -> str:
    """Validate ``value`` as an ID with key ``prefix`` and return its canonical 18-character form.

    Errors name ``field_label``, say what is wrong and how to fix it.
    """
    kind = _PREFIX_NAMES.get(prefix, f"ID starting with {prefix}")
    wanted = f"{_article(kind)} {kind}"
    try:
        id18 = canonical_id(value)
    except InvalidSalesforceIdError as exc:
        raise InvalidSalesforceIdError(
            f"{field_label}: {value.strip()!r} is not a Salesforce ID: {exc}. "
            f"Copy {wanted} (15 or 18 characters, starting with {prefix}) from Salesforce Setup."
        ) from None
    if id18[:3] != prefix:
        other = _PREFIX_NAMES.get(id18[:3])
        if other:
            hint = (f"this looks like {_article(other)} {other}; {kind}s start with {prefix}. "
                    "Check that the Org ID and User ID fields are not swapped.")
        else:
            hint = f"it starts with {id18[:3]!r}; {kind}s start with {prefix} (IDs are case-sensitive)."
        raise InvalidSalesforceIdError(f"{field_label}: {value.strip()!r} is not {wanted}: {hint}")
    return id18


def parse_org_id(value: str, field_label: str = "Salesforce Org ID") -> str:
    """Canonical 18-character Org ID (prefix ``00D``)."""
    return parse_id(value, ORG_PREFIX, field_label)


def parse_user_id(value: str, field_label: str = "Salesforce User ID") -> str:
    """Canonical 18-character User ID (prefix ``005``)."""
    return parse_id(value, USER_PREFIX, field_label)
