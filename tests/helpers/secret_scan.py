"""What the suite-wide secret scan reads (tests/conftest.py scans it at the end of the session)."""

from __future__ import annotations

produced: list[str] = []


def record_output(text: str) -> None:
    """Add something a test received (a rendered page, a CLI answer) to what the secret scan reads."""
    produced.append(text)
