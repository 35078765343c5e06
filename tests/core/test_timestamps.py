"""utc_text: the one way the page and the CLI show a moment; never raises on what a stored state holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_sf360.core.timestamps import utc_text


def test_moments_and_their_absence() -> None:
    assert utc_text(None) == utc_text(0) == utc_text("") == "never"
    assert utc_text(1_796_370_600) == "2026-12-04 07:50:00 UTC"
    assert utc_text("1796370600", short=True) == "Dec 04 07:50"
    assert utc_text("garbage") == utc_text(1e300) == "unknown"


@given(st.one_of(st.none(), st.floats(allow_nan=True), st.integers(), st.text(max_size=40)))
def test_never_raises(value: object) -> None:
    assert isinstance(utc_text(value), str)  # type: ignore[arg-type]
