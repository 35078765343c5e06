"""Cold pods: how many machine-flow grants N fresh task processes cause per token lifetime.

:func:`cold_pods_run` forgets the stored tokens of the JWT bearer and client credentials connections (cold start),
triggers ``sf360_cold_pods`` with ``pods`` mapped tasks (``scale/dags/sf360_cold_pods.py``: each task points
``TMPDIR`` at a directory of its own, so the tasks share nothing but the api-server and the metadata DB, then calls
``SF360Hook(conn_id).get_conn()`` for both connections) and counts the emulator's grants per flow. The emulator's
session timeout is raised for the run so that every grant falls into one token lifetime: grants per lifetime is
then the number of grants. The pods that are running by a common ``start_at`` begin together (as pods of a cluster
do; on a 2-core machine they would otherwise start seconds apart and find each other's token). Each pod minting
its own token gives up to N per lifetime (bounded by how many pods run at once: ``parallelism``); minting through
the api-server under its lock would give 1.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scale.harness import CLIENT_CREDENTIALS_CONN_ID, JWT_CONN_ID
from scale.scenarios import World, _delta, _ts, secret_scan

COLD_PODS_DAG_ID = "sf360_cold_pods"
#: Long enough that a cold-pods run (tens of seconds) stays within one token lifetime.
COLD_POD_SESSION_TIMEOUT = 900
#: Pods already running wait for a common start (``start_at``): this long after the trigger, plus per pod.
START_LEAD_SECONDS = 6.0
START_SECONDS_PER_POD = 0.5
GRANTS = {JWT_CONN_ID: "token:jwt_bearer", CLIENT_CREDENTIALS_CONN_ID: "token:client_credentials"}


@dataclass
class ColdPodFigures:
    """One cold start of ``pods`` task processes: grants per flow within one token lifetime."""

    pods: int
    parallelism: int
    pods_started_together: int
    run_state: str
    pods_succeeded: int
    max_try_number: int
    distinct_task_pids: int
    pods_that_locked_in_their_own_tmpdir: int
    wall_seconds: float
    session_timeout: int
    token_lifetimes: int
    jwt_bearer_grants: int
    client_credentials_grants: int
    other_grants: int
    jwt_bearer_grants_per_lifetime: float
    client_credentials_grants_per_lifetime: float
    secrets_checked: int
    secrets_in_logs: int

    def problems(self) -> list[str]:
        """Why the run itself is wrong (empty when it ran as designed), whatever the grant figure."""
        found = []
        if self.run_state != "success" or self.pods_succeeded != self.pods or self.max_try_number != 1:
            found.append(f"run {self.run_state}: {self.pods_succeeded}/{self.pods} pods, try {self.max_try_number}")
        if self.distinct_task_pids != self.pods:
            found.append(f"{self.pods} pods ran in {self.distinct_task_pids} processes")
        if self.pods_that_locked_in_their_own_tmpdir < max(self.jwt_bearer_grants, self.client_credentials_grants):
            found.append(f"{self.pods_that_locked_in_their_own_tmpdir} pods took the host lock in their own TMPDIR, "
                         "fewer than minted a token: some lock directory was shared")
        if not (1 <= self.jwt_bearer_grants <= self.pods and 1 <= self.client_credentials_grants <= self.pods):
            found.append(f"grants out of range: jwt {self.jwt_bearer_grants}, cc {self.client_credentials_grants}")
        if self.other_grants or self.secrets_in_logs:
            found.append(f"{self.other_grants} other grants, {self.secrets_in_logs} secrets in logs")
        return found

    def meets_goal(self) -> bool:
        """One grant per token lifetime for each machine flow, however many pods."""
        return self.jwt_bearer_grants_per_lifetime <= 1 and self.client_credentials_grants_per_lifetime <= 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cold_pods_run(world: World, pods: int, timeout: float = 300) -> ColdPodFigures:
    """Forget the machine tokens, start ``pods`` cold task processes at once, and count the grants."""
    from airflow_provider_sf360.testing import config as sf_world

    stack, emulator = world.stack, world.emulator
    for conn_id in GRANTS:
        stack.helper("delete", conn_id)
    stack.unpause(COLD_PODS_DAG_ID)
    emulator.set_app(sf_world.DEFAULT_CONSUMER_KEY, rotation=True, session_timeout=COLD_POD_SESSION_TIMEOUT)
    try:
        before = emulator.request_counts()
        start_at = time.time() + START_LEAD_SECONDS + START_SECONDS_PER_POD * min(pods, world.parallelism)
        run_id = stack.trigger({"pods": pods, "start_at": start_at}, dag_id=COLD_PODS_DAG_ID)
        state = stack.wait_run(run_id, timeout, dag_id=COLD_PODS_DAG_ID)
        after = emulator.request_counts()
    finally:
        emulator.set_app(sf_world.DEFAULT_CONSUMER_KEY, rotation=True, session_timeout=world.session_timeout)
    tis = stack.task_instances(run_id, "cold_pod", dag_id=COLD_PODS_DAG_ID)
    starts = [_ts(ti["start_date"]) for ti in tis if ti["start_date"]]
    ends = [_ts(ti["end_date"]) for ti in tis if ti["end_date"]]
    wall = (max(ends) - min(starts)) if starts and ends else math.nan
    lifetimes = max(1, math.ceil(wall / COLD_POD_SESSION_TIMEOUT)) if not math.isnan(wall) else 1
    jwt, cc = (_delta(after, before, grant) for grant in GRANTS.values())
    checked, leaked = secret_scan(world)
    return ColdPodFigures(
        pods=pods,
        parallelism=world.parallelism,
        pods_started_together=sum(_ts(ti["start_date"]) < start_at for ti in tis if ti["start_date"]),
        run_state=state,
        pods_succeeded=sum(ti["state"] == "success" for ti in tis),
        max_try_number=max((int(ti["try_number"]) for ti in tis), default=0),
        distinct_task_pids=len({ti["pid"] for ti in tis if ti.get("pid")}),
        pods_that_locked_in_their_own_tmpdir=_own_lock_directories(world, run_id, tis),
        wall_seconds=round(wall, 1),
        session_timeout=COLD_POD_SESSION_TIMEOUT,
        token_lifetimes=lifetimes,
        jwt_bearer_grants=jwt,
        client_credentials_grants=cc,
        other_grants=_delta(after, before, "token") - jwt - cc,
        jwt_bearer_grants_per_lifetime=round(jwt / lifetimes, 2),
        client_credentials_grants_per_lifetime=round(cc / lifetimes, 2),
        secrets_checked=checked,
        secrets_in_logs=leaked,
    )


def _own_lock_directories(world: World, run_id: str, tis: list[dict[str, Any]]) -> int:
    """How many pods took the provider's host lock in their own TMPDIR (a pod that found a fresh token stored
    takes no lock); the directories are removed."""
    found = 0
    for ti in tis:
        if ti["state"] != "success":
            continue
        result = world.stack.xcom(run_id, "cold_pod", dag_id=COLD_PODS_DAG_ID, map_index=int(ti["map_index"]))
        tmpdir = Path(str(result["tmpdir"]))
        found += any(tmpdir.glob("sf360-locks-*"))
        shutil.rmtree(tmpdir, ignore_errors=True)
    return found
