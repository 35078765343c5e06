"""The credential lock on a real PostgreSQL, held by one process and released when it is killed.

The scenario (``tests/scale/row_lock.py``): two server-side processes standing for two hosts renew the same
rotating credential; the second waits on the row lock and sends nothing; the first is killed mid-renewal; the
second goes on at once and names what happened. Nothing is ever reused.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from scale.harness import Postgres, postgres_bin_dir
from tests.scale.conftest import skip_or_fail
from tests.scale.row_lock import (
    assert_row_lock_excludes_another_host_and_dies_with_its_holder,
    backend_environment,
    migrate,
)

pytestmark = [pytest.mark.scale, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def pg_env(salesforce_emulator_session: SalesforceEmulator) -> Iterator[dict[str, str]]:
    """PostgreSQL started for this module, a migrated Airflow metadata DB on it, and the environment to use it."""
    pg_bin = postgres_bin_dir()
    if pg_bin is None:
        skip_or_fail("PostgreSQL binaries not found (Debian: apt-get install -y postgresql)")
    work = Path(tempfile.mkdtemp(prefix="sf360_pglock_"))
    work.chmod(0o711)  # the postgres user must reach its data directory inside
    postgres = Postgres(work / "pg", pg_bin)
    postgres.start()
    try:
        env = backend_environment(salesforce_emulator_session, work / "home", postgres.url)
        migrate(env)
        yield env
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_the_row_lock_excludes_another_host_and_dies_with_its_holder(
    pg_env: dict[str, str], salesforce_emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    assert_row_lock_excludes_another_host_and_dies_with_its_holder(pg_env, salesforce_emulator, tmp_path)
