"""Bounded retries with exponential backoff, for transient failures only."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_sf360.core.errors import SalesforceUnreachableError
from airflow_provider_sf360.core.options import default

T = TypeVar("T")


class TransientFailureError(Exception):
    """One failed attempt that may succeed if repeated; ``retry_after`` is Salesforce's hint in seconds."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries; waits ``base_delay * 2**n`` (jittered, capped at ``max_delay``)."""

    attempts: int = int(default("max_attempts"))
    base_delay: float = float(default("retry_base_delay"))
    max_delay: float = float(default("retry_max_delay"))
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self.base_delay * (2**attempt) * (0.75 + random.random() / 2)
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.max_delay)

    def run(self, what: str, attempt_once: Callable[[], T]) -> T:
        """Call ``attempt_once`` until it stops raising :class:`TransientFailureError`, at most ``attempts`` times."""
        last: TransientFailureError | None = None
        for attempt in range(self.attempts):
            try:
                return attempt_once()
            except TransientFailureError as failure:
                last = failure
                if attempt + 1 < self.attempts:
                    self.sleep(self.delay(attempt, failure.retry_after))
        assert last is not None
        raise SalesforceUnreachableError(
            f"Salesforce could not be reached for {what} after {self.attempts} attempts: {last.description}. "
            "This is usually temporary (network, maintenance or rate limit); the task can be retried."
        )
