"""The cross-host row-lock scenario, run against each metadata-DB backend (PostgreSQL, MariaDB).

Two server-side processes (standing for two hosts: each has its own TMPDIR, so no file lock is shared) renew the
same rotating credential through Airflow's metadata DB. The first is inside its exclusive section, waiting for a
refresh answer Salesforce has already processed; the second must wait on the row lock and send nothing. The first
is then killed: the database ends its session and the lock with it, and the second goes on at once, finds the
unfinished grant marker, asks Salesforce, and names what happened. Nothing is ever reused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_sf360.testing import SalesforceEmulator
from airflow_provider_sf360.testing import config as world

CONN_ID = "sf360_row_lock"
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
elif action == "lock_wait_probe":  # MySQL/MariaDB: the pooled connection's lock wait timeout around a lock
    from airflow import settings
    from sqlalchemy import text
    from airflow_provider_sf360.store.db_lock import row_locked_session
    ask = text("SELECT CONNECTION_ID(), @@SESSION.innodb_lock_wait_timeout")
    def pooled():
        with settings.engine.connect() as connection:
            return list(connection.execute(ask).one())
    before = pooled()
    with row_locked_session("sf360_lock__probe", 7) as session:
        inside = list(session.execute(ask).one())
    print(json.dumps({"before": before, "inside": inside, "after": pooled()}), flush=True)
elif action == "renew":
    hook.credentials  # read the connection before saying we are renewing
    print(json.dumps({"phase": "renewing"}), flush=True)
    try:
        hook.get_conn()
        print(json.dumps({"ok": True}), flush=True)
    except Exception as error:
        print(json.dumps({"ok": False, "type": type(error).__name__, "message": str(error)}), flush=True)
"""


def run_action(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", ACTION, CONN_ID, *args], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def start_renewer(env: dict[str, str], host: Path) -> subprocess.Popen[str]:
    host.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", ACTION, CONN_ID, "renew"], env={**env, "TMPDIR": str(host)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)


def wait_renewing(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline()) == {"phase": "renewing"}


def set_up_rotating_expired_token(env: dict[str, str], emu: SalesforceEmulator) -> None:
    """Rotation on, a token set up by the web server flow, then marked expired: the next use must renew."""
    emu.set_app(world.DEFAULT_CONSUMER_KEY, rotation=True)
    redirect = emu.authorize_headless(str(run_action(env, "authorize")["url"]))
    assert run_action(env, "complete", redirect)["ok"]
    run_action(env, "expire")


def assert_row_lock_excludes_another_host_and_dies_with_its_holder(
    env: dict[str, str], salesforce_emulator: SalesforceEmulator, tmp_path: Path
) -> None:
    """The scenario of the module docstring."""
    emu = salesforce_emulator
    set_up_rotating_expired_token(env, emu)

    holder = start_holder_mid_renewal(env, emu, tmp_path / "host-a")

    follower = start_renewer(env, tmp_path / "host-b")  # another host: no file lock in common
    wait_renewing(follower)
    time.sleep(3)
    assert follower.poll() is None, "the second host did not wait for the row lock"
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
    let_the_late_answer_land(emu, killed)


def start_holder_mid_renewal(env: dict[str, str], emu: SalesforceEmulator, host: Path,
                             answer_seconds: float = HOLDER_ANSWER_SECONDS) -> subprocess.Popen[str]:
    """A renewer inside its exclusive section: Salesforce processed its grant and holds the answer back."""
    emu.inject_fault("token", "delay_after", count=1, seconds=answer_seconds)
    holder = start_renewer(env, host)
    wait_renewing(holder)
    deadline = time.monotonic() + 120
    while emu.holdings()["rotations"] < 1:
        assert time.monotonic() < deadline and holder.poll() is None, "the holder never sent its grant"
        time.sleep(0.05)
    return holder


def let_the_late_answer_land(emu: SalesforceEmulator, killed: float) -> None:
    """Wait for the held-back answer, so that it lands in the test that caused it."""
    while emu.request_counts().get("token:refresh_token", 0) < 1:
        assert time.monotonic() < killed + HOLDER_ANSWER_SECONDS + 10
        time.sleep(0.1)


def backend_environment(emu: SalesforceEmulator, home: Path, db_url: str) -> dict[str, str]:
    """A server-side environment on the metadata DB at ``db_url``, with the scenario's connection."""
    from scale.harness import base_environment

    return {
        **base_environment(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": os.environ["AIRFLOW__CORE__FERNET_KEY"],
        "AIRFLOW__SF360__ALLOWED_HOSTS": "127.0.0.1",
        "REQUESTS_CA_BUNDLE": emu.ca_bundle,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(emu.sf360_connection("authorization_code")),
    }


def migrate(env: dict[str, str]) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
