"""The two scenarios of the distributed run, measured: rotation under load, and an admin revoking midway.

``scale.worlds.scale_world()`` starts PostgreSQL, the emulator (rotation on, short session timeout) and the
Airflow stack, and sets the OAuth token up once (outside tasks). ``rotation_run`` and ``revocation_run`` trigger
the scale DAG through the REST API and return exact figures; callers (the pytest module, ``run_scale.py``)
assert or print.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from scale.harness import AirflowStack, wait_for

if TYPE_CHECKING:
    from airflow_provider_sf360.testing import SalesforceEmulator

#: The provider renews a token in the last fifth of its lifetime (at most 60 s before its end).
RENEWAL_FRACTION = 0.8
#: Token requests allowed beyond one per usable token lifetime (start of the run, waves, rounding).
SMALL_CONSTANT = 3
REVOKED_REASON = "set up the oauth token again"


@dataclass
class World:
    """Everything a scenario needs: the stack, the emulator and the settings."""

    stack: AirflowStack
    emulator: SalesforceEmulator
    session_timeout: int
    parallelism: int
    work_dir: Path


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _raise_on_sigterm() -> Any:
    """Turn SIGTERM (``timeout``, CI cancellation) into KeyboardInterrupt so that every process gets stopped."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def secret_scan(world: World) -> tuple[int, int]:
    """(secrets looked for, secrets found): every secret the emulator issued or received, in every log file."""
    secrets = {s for s in world.emulator.secrets_seen() if len(s) >= 16}
    texts = [p.read_text(errors="replace") for p in world.work_dir.rglob("*.log") if p.is_file()]
    haystack = "\n".join(texts)
    return len(secrets), sum(secret in haystack for secret in secrets)


def _ts(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else math.nan


def _bound(wall: float, period: float) -> int:
    """One token request per ``period`` seconds of ``wall`` time, plus the small constant."""
    return 0 if math.isnan(wall) else math.ceil(wall / period) + SMALL_CONSTANT


def copy_logs(work_dir: Path, target: Path) -> None:
    """Keep the run's log files (process logs and task logs, not the database) for a post-mortem."""
    for path in work_dir.rglob("*.log"):
        if path.is_file() and "pg" not in path.relative_to(work_dir).parts[:1]:
            destination = target / path.relative_to(work_dir)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def _delta(after: dict[str, int], before: dict[str, int], key: str) -> int:
    return int(after.get(key, 0)) - int(before.get(key, 0))


@dataclass
class RotationFigures:
    """Exact figures of one run that must pass.

    ``token_request_bound`` (checked): one token request per usable token lifetime over the run's wall time
    (the provider renews once 80 % of the session timeout has passed), plus ``SMALL_CONSTANT``.
    ``bound_one_per_session_lifetime`` uses the full session timeout instead, for reference.
    """

    run_state: str
    tasks: int
    tasks_succeeded: int
    distinct_task_pids: int
    orm_blocked_in_tasks: bool
    max_try_number: int
    api_calls: int
    rest_requests: int
    invalid_session_renewals: int
    token_requests: int
    refresh_token_grants: int
    other_token_grants: int
    reuse_detections: int
    wall_seconds: float
    session_timeout: int
    session_lifetimes: float
    bound_one_per_session_lifetime: int
    token_request_bound: int
    parallelism: int
    secrets_checked: int
    secrets_in_logs: int

    def problems(self) -> list[str]:
        """Why the run does not pass (empty when it does)."""
        found = []
        if self.run_state != "success" or self.tasks_succeeded != self.tasks:
            found.append(f"run {self.run_state}, {self.tasks_succeeded}/{self.tasks} tasks succeeded")
        if self.max_try_number != 1:
            found.append(f"some task needed try {self.max_try_number}")
        if self.distinct_task_pids != self.tasks:
            found.append(f"{self.tasks} tasks ran in {self.distinct_task_pids} distinct processes")
        if not self.orm_blocked_in_tasks:
            found.append("a task could use the ORM: the run is not under Task SDK isolation")
        if self.reuse_detections:
            found.append(f"{self.reuse_detections} refresh-token reuse detections")
        if self.token_requests > self.token_request_bound:
            found.append(f"{self.token_requests} token requests > bound {self.token_request_bound}")
        if self.secrets_in_logs:
            found.append(f"{self.secrets_in_logs} secrets found in log files")
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rotation_run(world: World, tasks: int = 32, seconds: float = 60, interval: float = 0.25,
                 timeout: float = 900) -> RotationFigures:
    """Trigger the DAG, wait for it, and measure: tasks, API calls, token requests by grant, reuse detections."""
    stack, emulator = world.stack, world.emulator
    before, reuse_before = emulator.request_counts(), emulator.reuse_detections
    run_id = stack.trigger({"tasks": tasks, "seconds": seconds, "interval": interval})
    state = stack.wait_run(run_id, timeout)
    after, reuse_after = emulator.request_counts(), emulator.reuse_detections
    tis = stack.task_instances(run_id, "call_salesforce")
    total = stack.xcom(run_id, "total") if state == "success" else {}
    orm_blocked = state == "success" and stack.xcom(run_id, "orm_probe") is True
    starts = [_ts(ti["start_date"]) for ti in tis if ti["start_date"]]
    ends = [_ts(ti["end_date"]) for ti in tis if ti["end_date"]]
    wall = (max(ends) - min(starts)) if starts and ends else math.nan
    usable_lifetime = world.session_timeout * RENEWAL_FRACTION
    token_requests = _delta(after, before, "token")
    refresh = _delta(after, before, "token:refresh_token")
    checked, leaked = secret_scan(world)
    return RotationFigures(
        run_state=state,
        tasks=tasks,
        tasks_succeeded=sum(ti["state"] == "success" for ti in tis),
        distinct_task_pids=len({ti["pid"] for ti in tis if ti.get("pid")}),
        orm_blocked_in_tasks=orm_blocked,
        max_try_number=max((int(ti["try_number"]) for ti in tis), default=0),
        api_calls=int(total.get("calls", 0)),
        rest_requests=_delta(after, before, "rest"),
        invalid_session_renewals=int(total.get("invalid_session_renewals", 0)),
        token_requests=token_requests,
        refresh_token_grants=refresh,
        other_token_grants=token_requests - refresh,
        reuse_detections=reuse_after - reuse_before,
        wall_seconds=round(wall, 1),
        session_timeout=world.session_timeout,
        session_lifetimes=round(wall / world.session_timeout, 1),
        bound_one_per_session_lifetime=_bound(wall, world.session_timeout),
        token_request_bound=_bound(wall, usable_lifetime),
        parallelism=world.parallelism,
        secrets_checked=checked,
        secrets_in_logs=leaked,
    )


@dataclass
class RevocationFigures:
    """Exact figures of a run during which an admin revokes every token of the user."""

    run_state: str
    tasks: int
    running_at_revocation: int
    tasks_failed: int
    failed_with_reason: int
    started_after_revocation: int
    max_try_number: int
    token_requests_after_revocation: int
    refresh_token_grants_after_revocation: int
    rest_requests_after_revocation: int
    seconds_to_last_running_task_end: float
    seconds_to_last_task_end: float
    stored_status: str
    sample_reason: str
    reuse_detections: int
    secrets_checked: int
    secrets_in_logs: int

    def problems(self, max_token_requests: int = 2, max_seconds: float = 60.0) -> list[str]:
        """Why the revocation behaviour is wrong (empty when it is right)."""
        found = []
        if self.tasks_failed != self.tasks:
            found.append(f"{self.tasks_failed}/{self.tasks} mapped tasks failed")
        if self.failed_with_reason != self.tasks_failed:
            found.append(f"only {self.failed_with_reason} failed tasks logged {REVOKED_REASON!r}")
        if self.max_try_number != 1:
            found.append(f"a task was retried (try {self.max_try_number})")
        if self.token_requests_after_revocation > max_token_requests:
            found.append(f"{self.token_requests_after_revocation} token requests after revocation (retry storm)")
        if not self.seconds_to_last_task_end <= max_seconds:
            found.append(f"last task ended {self.seconds_to_last_task_end} s after revocation")
        if self.stored_status != "revoked":
            found.append(f"stored status is {self.stored_status!r}, not 'revoked'")
        if self.secrets_in_logs:
            found.append(f"{self.secrets_in_logs} secrets found in log files")
        if self.reuse_detections:
            found.append(f"{self.reuse_detections} refresh-token reuse detections")
        return found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def revocation_run(world: World, tasks: int = 32, seconds: float = 240, warmup: float = 10,
                   timeout: float = 400) -> RevocationFigures:
    """Trigger a long run; once a full wave is calling Salesforce, revoke every token of the user."""
    from airflow_provider_sf360.testing import config as sf_world

    stack, emulator = world.stack, world.emulator
    reuse_before = emulator.reuse_detections
    run_id = stack.trigger({"tasks": tasks, "seconds": seconds, "interval": 0.25})
    wave = min(world.parallelism, tasks)

    def full_wave_running() -> int:
        running = [ti for ti in stack.task_instances(run_id, "call_salesforce") if ti["state"] == "running"]
        return len(running) if len(running) >= wave else 0

    running = wait_for(full_wave_running, 300, f"{wave} running tasks", interval=1)
    time.sleep(warmup)
    before = emulator.request_counts()
    revoked_at = time.time()
    emulator.revoke_user_tokens(sf_world.DEFAULT_USER_ID)
    state = stack.wait_run(run_id, timeout)
    after = emulator.request_counts()
    tis = stack.task_instances(run_id, "call_salesforce")
    failed = [ti for ti in tis if ti["state"] == "failed"]
    with_reason = [
        ti for ti in failed
        if REVOKED_REASON in _reason(stack.task_log(run_id, ti["task_id"], ti["map_index"], ti["try_number"])).lower()
    ]
    ends = [_ts(ti["end_date"]) for ti in tis if ti["end_date"]]
    running_ends = [_ts(ti["end_date"]) for ti in tis if ti["end_date"] and _ts(ti["start_date"]) <= revoked_at]
    sample = _reason(stack.task_log(run_id, "call_salesforce", 0, 1))
    checked, leaked = secret_scan(world)
    return RevocationFigures(
        run_state=state,
        tasks=tasks,
        running_at_revocation=int(running),
        tasks_failed=len(failed),
        failed_with_reason=len(with_reason),
        started_after_revocation=sum(_ts(ti["start_date"]) > revoked_at for ti in tis if ti["start_date"]),
        max_try_number=max((int(ti["try_number"]) for ti in tis), default=0),
        token_requests_after_revocation=_delta(after, before, "token"),
        refresh_token_grants_after_revocation=_delta(after, before, "token:refresh_token"),
        rest_requests_after_revocation=_delta(after, before, "rest"),
        seconds_to_last_running_task_end=round(max(running_ends) - revoked_at, 1) if running_ends else math.nan,
        seconds_to_last_task_end=round(max(ends) - revoked_at, 1) if ends else math.nan,
        stored_status=str(stack.helper("status").get("status")),
        sample_reason=sample,
        reuse_detections=emulator.reuse_detections - reuse_before,
        secrets_checked=checked,
        secrets_in_logs=leaked,
    )


def _reason(log: str) -> str:
    """The exception message a task log records (``exc_value`` of its JSON error detail)."""
    found = re.search(r'"exc_value":\s*("(?:[^"\\]|\\.)*")', log)
    return str(json.loads(found.group(1))) if found else ""


def table(title: str, figures: dict[str, Any]) -> str:
    """A two-column Markdown table of figures."""
    lines = [f"### {title}", "", "| Figure | Value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in figures.items()]
    return "\n".join(lines)
