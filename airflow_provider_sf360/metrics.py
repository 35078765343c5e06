"""Renewal metrics through Airflow's ``Stats`` (StatsD or OpenTelemetry, as Airflow is configured).

``sf360.token.renewed`` (tag ``flow``), ``sf360.token.renewal_failed`` (tag ``reason``; also
``sf360.token.renewal_failed.<reason>`` for StatsD without tags), and the timers ``sf360.token.renewal_wait``
(time queued behind other renewers) and ``sf360.token.renewal_duration`` (time Salesforce took).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk.observability.stats import Stats


class StatsMetrics:
    """Implements ``core.renewal.RenewalMetrics`` with Airflow's ``Stats``."""

    def renewed(self, flow: str, seconds: float) -> None:
        Stats.incr("sf360.token.renewed", tags={"flow": flow})
        Stats.timing("sf360.token.renewal_duration", timedelta(seconds=seconds), tags={"flow": flow})

    def failed(self, reason: str) -> None:
        Stats.incr("sf360.token.renewal_failed", tags={"reason": reason})
        Stats.incr(f"sf360.token.renewal_failed.{reason}")

    def waited(self, seconds: float) -> None:
        Stats.timing("sf360.token.renewal_wait", timedelta(seconds=seconds))
