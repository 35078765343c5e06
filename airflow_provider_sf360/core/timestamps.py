"""Epoch timestamps as the page and the CLI show them (UTC)."""

from __future__ import annotations

import datetime as dt


def utc_text(epoch: float | str | None, short: bool = False) -> str:
    """An epoch as UTC text: "never" for none, "unknown" for what is no timestamp.

    :param epoch: seconds since 1970 (a number or its text), or ``None``.
    :param short: "Dec 04 07:30" (the page's table) instead of "2026-12-04 07:30:00 UTC".
    """
    if not epoch:
        return "never"
    try:
        moment = dt.datetime.fromtimestamp(float(epoch), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return "unknown"
    return moment.strftime("%b %d %H:%M" if short else "%Y-%m-%d %H:%M:%S UTC")
