"""A 100 KB private key took 11 s to validate (quadratic PEM regex) and blocked the api-server.

Every connection field now has a maximum length checked before anything reads it, and PEM is parsed with
``str.find`` (linear). Both sizes are refused in well under 100 ms with the provider's error naming the field.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest

from airflow_provider_sf360.core.credentials import (
    FIELD_LABELS,
    FIELD_MAX_LENGTHS,
    credentials_from_connection_fields,
    normalize_pem,
    private_key_problem,
)
from airflow_provider_sf360.core.errors import CredentialsInvalidError
from tests.helpers.pem import BEGIN_KEY, DASHES, END_KEY, armour

from .secrets_kit import ORG18, SETTINGS, USER18

BASE = {"org_id": ORG18, "user_id": USER18, "auth_flow": "jwt_bearer", "username": "sync@acme.example"}


def _refuse(extra: Mapping[str, object], login: object = "3MVGkey", password: object = None) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(CredentialsInvalidError) as err:
        credentials_from_connection_fields("sf360_big", extra, login, password, SETTINGS)  # type: ignore[arg-type]
    return str(err.value), time.perf_counter() - started


def test_warm_up() -> None:
    """Imports and first compilations out of the timed tests."""
    _refuse({**BASE, "private_key": "x" * 20000})


@pytest.mark.parametrize("size", [100_000, 1_000_000])
@pytest.mark.parametrize(
    "shape",
    [
        BEGIN_KEY + "{}",  # the reported quadratic case: a BEGIN line and no END
        armour("BEGIN", "RSA PRIVATE KEY") + "{}" + armour("END", "RSA PRIVATE KEY"),
        "{}",
    ],
)
def test_huge_private_key_is_refused_fast(size: int, shape: str) -> None:
    text = shape.format("A" * size)
    message, seconds = _refuse({**BASE, "private_key": text})
    assert seconds < 0.1, seconds
    assert "Private Key (PEM): too long" in message and f"at most {FIELD_MAX_LENGTHS['private_key']}" in message
    assert "AAAAAAAAAA" not in message  # the value itself is never echoed


def test_worst_case_pem_under_the_cap_is_linear() -> None:
    """Shapes that made the old regex backtrack, at the largest size the cap lets through."""
    cap = FIELD_MAX_LENGTHS["private_key"]
    shapes = [
        BEGIN_KEY * (cap // 27),
        BEGIN_KEY + END_KEY[:-5] * ((cap - 30) // 20),
        DASHES + "BEGIN " + "A" * (cap - 20),
    ]
    for text in shapes:
        started = time.perf_counter()
        assert private_key_problem(text) is not None
        normalize_pem(text)
        assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize("key", sorted(k for k in FIELD_MAX_LENGTHS if k not in ("login", "password")))
def test_every_extra_field_has_a_cap_naming_the_field(key: str) -> None:
    message, seconds = _refuse({**BASE, key: "x" * (FIELD_MAX_LENGTHS[key] + 1)})
    assert f"{FIELD_LABELS[key]}: too long" in message
    assert seconds < 0.1


@pytest.mark.parametrize("key", ["login", "password"])
def test_login_and_password_have_caps(key: str) -> None:
    big = "k" * (FIELD_MAX_LENGTHS[key] + 1)
    message, _ = _refuse(BASE, **{key: big})
    assert f"{FIELD_LABELS[key]}: too long" in message
    assert big not in message
