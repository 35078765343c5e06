"""The credential lock on a real PostgreSQL, held by one process and released when it is killed.

Two server-side processes (standing for two hosts: each has its own TMPDIR, so no file lock is shared) renew the
same rotating credential through Airflow's metadata DB on PostgreSQL. The first is inside its exclusive section,
waiting for a refresh answer Salesforce has already processed; the second must wait on the row lock and send
nothing. The first is then killed: the database ends its session and the lock with it, and the second goes on
at once, finds the unfinished grant marker, asks Salesforce, and names what happened. Nothing is ever reused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world
from scale.harness import Postgres, base_environment, postgres_bin_dir

pytestmark = [pytest.mark.scale, pytest.mark.timeout(420)]

CONN_ID = "sf360_pg_lock"
HOLDER_ANSWER_SECONDS = 20.0
ACTION = """
import json, sys, time
from dataclasses import replace
from airflow_provider_sf360.service import SF360Actions

actions = SF360Actions(sys.argv[1])
hook = actions.hook
action = sys.argv[2]
if action == "authorize":
    print(json.dumps({"url": actions.start_authorization()}), flush=True)
elif action == "complete":
    print(json.dumps({"ok": actions.complete_authorization(sys.argv[3]).ok}), flush=True)
elif action == "expire":
    state = hook.lifecycle.store.load()
    hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))
    print("{}", flush=True)
elif action == "renew":
    hook.credentials  # read the connection before saying we are renewing
    print(json.dumps({"phase": "renewing"}), flush=True)
    try:
        hook.get_conn()
        print(json.dumps({"ok": True}), flush=True)
    except Exception as error:
        print(json.dumps({"ok": False, "type": type(error).__name__, "message": str(error)}), flush=True)
"""


@pytest.fixture(scope="module")
def pg_env(salesforce_emulator_session: SalesforceEmulator) -> Iterator[dict[str, str]]:
    """PostgreSQL started for this module, a migrated Airflow metadata DB on it, and the environment to use it."""
    pg_bin = postgres_bin_dir()
    if pg_bin is None:
        if os.environ.get("SF360_REQUIRE_SCALE"):
            pytest.fail("SF360_REQUIRE_SCALE is set but PostgreSQL binaries were not found")
        pytest.skip("PostgreSQL binaries not found (Debian: apt-get install -y postgresql)")
    work = Path(tempfile.mkdtemp(prefix="sf360_pglock_"))
    work.chmod(0o711)  # the postgres user must reach its data directory inside
    postgres = Postgres(work / "pg", pg_bin)
    postgres.start()
    emu = salesforce_emulator_session
    conn = emu.sf360_connection("authorization_code")
    env = {
        **base_environment(),
        "AIRFLOW_HOME": str(work / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": os.environ["AIRFLOW__CORE__FERNET_KEY"],
        "AIRFLOW__SF360__ALLOWED_HOSTS": "127.0.0.1",
        "REQUESTS_CA_BUNDLE": emu.ca_bundle,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    try:
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        yield env
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", ACTION, CONN_ID, *args], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _start_renewer(env: dict[str, str], host: Path) -> subprocess.Popen[str]:
    host.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", ACTION, CONN_ID, "renew"], env={**env, "TMPDIR": str(host)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)


def _renewing(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline()) == {"phase": "renewing"}


def test_the_row_lock_excludes_another_host_and_dies_with_its_holder(
    pg_env: dict[str, str], salesforce_emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    emu = salesforce_emulator
    emu.set_app(world.DEFAULT_CONSUMER_KEY, rotation=True)
    redirect = emu.authorize_headless(str(_run(pg_env, "authorize")["url"]))
    assert _run(pg_env, "complete", redirect)["ok"]
    _run(pg_env, "expire")  # the next use must renew

    emu.inject_fault("token", "delay_after", count=1, seconds=HOLDER_ANSWER_SECONDS)
    holder = _start_renewer(pg_env, tmp_path / "host-a")
    _renewing(holder)
    deadline = time.monotonic() + 120
    while emu.holdings()["rotations"] < 1:  # Salesforce processed the holder's grant; its answer is held back
        assert time.monotonic() < deadline and holder.poll() is None, "the holder never sent its grant"
        time.sleep(0.05)

    follower = _start_renewer(pg_env, tmp_path / "host-b")  # another host: no file lock in common
    _renewing(follower)
    time.sleep(3)
    assert follower.poll() is None, f"the second host did not wait for the row lock: {follower.stdout.read()}"
    assert emu.holdings()["rotations"] == 1  # and sent nothing meanwhile

    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(10)
    killed = time.monotonic()
    assert follower.stdout is not None
    outcome = json.loads(follower.stdout.readline())
    follower.wait(30)
    assert time.monotonic() - killed < HOLDER_ANSWER_SECONDS / 2  # the lock died with its holder's session
    assert outcome["ok"] is False and outcome["type"].endswith("RefreshAnswerLostError"), outcome
    assert "answer was lost" in str(outcome["message"])
    holdings = emu.holdings()
    assert holdings["rotations"] == 1 and holdings["reuse_detections"] == 0
    while emu.request_counts().get("token:refresh_token", 0) < 1:  # let the late answer land in this test
        assert time.monotonic() < killed + HOLDER_ANSWER_SECONDS + 10
        time.sleep(0.1)
