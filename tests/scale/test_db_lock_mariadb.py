"""The credential lock on a real MariaDB (Debian's mariadb-server, a throwaway instance on a free loopback port).

Airflow 3.3.2 migrates a MariaDB 10.11 metadata DB with ``mysql+pymysql://`` (or mysqlclient's ``mysql://``); it
imports mysqlclient either way and needs aiomysql for its async engine (``scale/mariadb.py``). On it:

- the cross-host row-lock scenario of ``tests/scale/row_lock.py`` (the same as on PostgreSQL);
- a second host that may wait only ``[sf360] lock_wait_timeout`` gives up after that long, retryably, and sends
  nothing (``innodb_lock_wait_timeout`` is in force for the lock statement);
- the pooled connection that took the lock gets its previous ``innodb_lock_wait_timeout`` back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from scale.harness import Processes
from scale.mariadb import MariaDB, mariadb_binaries, missing_python_driver
from tests.scale.conftest import skip_or_fail
from tests.scale.row_lock import (
    assert_row_lock_excludes_another_host_and_dies_with_its_holder,
    backend_environment,
    let_the_late_answer_land,
    migrate,
    run_action,
    set_up_rotating_expired_token,
    start_holder_mid_renewal,
    start_renewer,
    wait_renewing,
)

pytestmark = [pytest.mark.scale, pytest.mark.timeout(420)]

SHORT_LOCK_WAIT = 2
SERVER_DEFAULT_LOCK_WAIT = 50  # MariaDB's default innodb_lock_wait_timeout


def _unavailable() -> str | None:
    if mariadb_binaries() is None:
        return "MariaDB not found (Debian: apt-get install -y mariadb-server)"
    if (package := missing_python_driver()) is not None:
        return f"{package} is not installed (pip install -e '.[mysql]'; mysqlclient needs libmariadb-dev)"
    return None


@pytest.fixture(scope="module")
def mariadb_env(salesforce_emulator_session: SalesforceEmulator) -> Iterator[dict[str, str]]:
    """MariaDB started for this module, a migrated Airflow metadata DB on it, and the environment to use it."""
    skip_or_fail(_unavailable())
    work = Path(tempfile.mkdtemp(prefix="sf360_mariadb_"))
    work.chmod(0o711)  # the mysql user must reach its data directory inside
    procs = Processes(work, uuid.uuid4().hex)
    try:
        server = MariaDB(work / "mariadb")
        server.start(procs)
        env = backend_environment(salesforce_emulator_session, work / "home", server.url)
        migrate(env)
        yield env
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def test_the_row_lock_excludes_another_host_and_dies_with_its_holder(
    mariadb_env: dict[str, str], salesforce_emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    assert_row_lock_excludes_another_host_and_dies_with_its_holder(mariadb_env, salesforce_emulator, tmp_path)


def test_a_host_that_may_wait_only_briefly_gives_up_retryably_and_sends_nothing(
    mariadb_env: dict[str, str], salesforce_emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    emu = salesforce_emulator
    set_up_rotating_expired_token(mariadb_env, emu)
    holder = start_holder_mid_renewal(mariadb_env, emu, tmp_path / "host-a", answer_seconds=SHORT_LOCK_WAIT + 6)
    impatient = {**mariadb_env, "AIRFLOW__SF360__LOCK_WAIT_TIMEOUT": str(SHORT_LOCK_WAIT)}
    follower = start_renewer(impatient, tmp_path / "host-b")
    wait_renewing(follower)
    waiting_since = time.monotonic()
    assert follower.stdout is not None
    outcome = json.loads(follower.stdout.readline())
    waited = time.monotonic() - waiting_since
    follower.wait(30)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(10)
    assert outcome["ok"] is False and outcome["type"] == "SalesforceUnreachableError", outcome
    assert f"Waited {SHORT_LOCK_WAIT} s" in str(outcome["message"])
    assert SHORT_LOCK_WAIT - 0.5 <= waited < SHORT_LOCK_WAIT + 8  # the bound, not MariaDB's default of 50 s
    assert emu.holdings()["rotations"] == 1 and emu.holdings()["reuse_detections"] == 0
    let_the_late_answer_land(emu, time.monotonic())


def test_the_pooled_connection_gets_its_lock_wait_timeout_back(mariadb_env: dict[str, str]) -> None:
    probe = run_action(mariadb_env, "lock_wait_probe")
    before, inside, after = (list(probe[moment]) for moment in ("before", "inside", "after"))  # type: ignore[call-overload]
    assert before[0] == inside[0] == after[0], f"not one pooled connection: {probe}"
    assert (before[1], inside[1], after[1]) == (SERVER_DEFAULT_LOCK_WAIT, 7, SERVER_DEFAULT_LOCK_WAIT)
