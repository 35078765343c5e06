"""The provider's Variables in the metadata DB (``store/variables.py``): encrypted at rest, written atomically."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from airflow.utils.session import create_session
from sqlalchemy import select

from airflow_provider_sf360.store.variables import MetadataDbVariables, SessionVariables, read_value


def test_threads_saving_one_new_key_at_once_all_succeed_and_one_value_wins(airflow_db: object) -> None:
    """Three shared connections tested together save one record: a select-then-insert made two of them fail."""
    key = f"sf360_status__race_{secrets.token_hex(4)}"
    start = threading.Barrier(8)

    def save(index: int) -> str:
        start.wait()
        MetadataDbVariables().set(key, f"value-{index}")
        return "saved"

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(save, range(8))) == ["saved"] * 8
    assert MetadataDbVariables().get(key) in {f"value-{index}" for index in range(8)}
    MetadataDbVariables().delete(key)


def test_values_are_encrypted_at_rest_and_read_back_in_the_same_session(airflow_db: object) -> None:
    from airflow.models.variable import Variable

    key, value = f"sf360_token__enc_{secrets.token_hex(4)}", '{"access_token": "plain-text-never-stored"}'
    with create_session() as session:
        variables = SessionVariables(session)
        variables.set(key, value, description="probe")
        assert variables.get(key) == value
        stored, encrypted = session.execute(
            select(Variable.__table__.c.val, Variable.__table__.c.is_encrypted).where(Variable.__table__.c.key == key)
        ).one()
        assert encrypted and "plain-text" not in stored
        assert read_value(session, key) == (value, None)
        variables.set(key, "second")
        assert variables.get(key) == "second"
        variables.delete(key)
        assert variables.get(key) is None and read_value(session, key) is None
