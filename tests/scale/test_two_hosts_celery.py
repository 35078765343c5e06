"""CeleryExecutor run in the split api-server layout: two worker hosts, one rotating credential, a slow network, a
late answer; then the same layout without ``[sf360] api_server_url`` (the negative check).

Redis (broker) and PostgreSQL (metadata DB, result backend) started by the test on loopback; two api-servers
(``--apps core``: UI, REST, plugins; ``--apps execution``: the Execution API), scheduler, dag-processor and two
``airflow celery worker`` processes standing for two hosts (own Celery host name, own TMPDIR, own routes to the
api-servers). Workers reach the Execution API on the execution api-server and the provider's renewal route on the
core one (``[sf360] api_server_url``). 32 mapped tasks call the emulator (rotation on, 15 s sessions)
through ``SF360Hook.get_conn()`` while host B's api-server traffic is held 0.5 s and then 1 s per request and one
refresh answer comes 3 s late with ``[sf360] request_timeout=2``. Figures: printed and appended to
``test-artifacts/scale-figures.md``. Knobs: ``SF360_CELERY_TASK_SECONDS`` (30), ``SF360_CELERY_CONCURRENCY`` (8
per host), ``SF360_CELERY_SPLIT`` (1; 0 runs one api-server with every app, and skips the negative check);
``SF360_REQUIRE_SCALE=1`` turns a missing piece into a failure instead of a skip.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scale.celery_stack import CeleryWorld, celery_run, celery_world, redis_server_binary
from scale.two_hosts import wiring_check_run
from tests.scale.conftest import logs_kept_if_a_test_fails, postgres_binaries, report_figures

pytestmark = [pytest.mark.scale, pytest.mark.timeout(900)]

TASKS = 32
TASK_SECONDS = float(os.environ.get("SF360_CELERY_TASK_SECONDS", 30))
CONCURRENCY = int(os.environ.get("SF360_CELERY_CONCURRENCY", 8))
SPLIT = os.environ.get("SF360_CELERY_SPLIT", "1") != "0"


def _celery_missing() -> str | None:
    """What the Celery run lacks here beyond what every run needs (``unavailable``), or None."""
    if redis_server_binary() is None:
        return "redis-server not found (Debian: apt-get install -y redis-server)"
    for module, package in (("airflow.providers.celery", "apache-airflow-providers-celery"), ("redis", "redis")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{package} is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def celery_stack(request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[CeleryWorld]:
    """The running Celery stack; its logs go to ``test-artifacts/celery-logs/`` when a test of the module fails."""
    pg_bin = postgres_binaries(_celery_missing())
    with celery_world(pg_bin, concurrency=CONCURRENCY, split_api_servers=SPLIT) as world, \
            logs_kept_if_a_test_fails(request, world.world.work_dir, artifacts_dir / "celery-logs"):
        yield world


def test_celery_two_hosts_keep_the_token_family_under_a_slow_network_and_a_late_answer(
    celery_stack: CeleryWorld, capsys: pytest.CaptureFixture[str], artifacts_dir: Path
) -> None:
    figures = celery_run(celery_stack, TASKS, TASK_SECONDS)
    layout = "split api-servers (core + execution)" if celery_stack.split_api_servers else "one api-server"
    title = f"Celery run, {layout}: two hosts, slow network to the api-server, one late refresh answer"
    report_figures(capsys, artifacts_dir, title, figures.as_dict())
    assert figures.problems() == []
    assert figures.refresh_token_grants >= 2  # tokens really expired during the run
    assert figures.api_calls == figures.rest_requests


def test_split_layout_without_the_sf360_api_server_url_fails_the_task_at_once_with_one_message(
    celery_stack: CeleryWorld, capsys: pytest.CaptureFixture[str], artifacts_dir: Path
) -> None:
    if not celery_stack.split_api_servers:
        pytest.skip("SF360_CELERY_SPLIT=0: one api-server serves the renewal route at the Execution API's address")
    figures = wiring_check_run(celery_stack)
    report_figures(capsys, artifacts_dir, "Split layout, the task has no [sf360] api_server_url", figures.as_dict())
    assert figures.problems() == []
