"""PEM armour lines for hostile test inputs, built from parts so that no key armour stands in the source
(real keys in tests are generated at run time with ``cryptography``)."""

from __future__ import annotations

DASHES = "-" * 5


def armour(edge: str, label: str = "PRIVATE KEY") -> str:
    """``-----BEGIN <label>-----`` (``edge="BEGIN"``) or the END line."""
    return f"{DASHES}{edge} {label}{DASHES}"


BEGIN_KEY = armour("BEGIN")
END_KEY = armour("END")
