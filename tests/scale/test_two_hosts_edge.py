"""EdgeExecutor run: two Edge hosts without metadata-DB access, one rotating credential, a slow network.

PostgreSQL, api-server (with the edge3 worker API), scheduler and dag-processor with ``EdgeExecutor``; two
``airflow edge worker`` processes standing for two remote hosts (own ``AIRFLOW_HOME``, ``TMPDIR`` and host name;
no ``sql_alchemy_conn``, no Fernet key, no connection variable, no ``execution_api_server_url``: only ``[edge]
api_url`` and the JWT secret). Host B reaches the api-server through a proxy that holds each request 0.5 s, then
1 s; one refresh answer comes 3 s late. 32 mapped tasks (all at once) call the emulator (rotation on, 15 s
sessions) through ``SF360Hook.get_conn()``. Knobs: ``SF360_EDGE_TASK_SECONDS`` (25), ``SF360_EDGE_CONCURRENCY``
(16 per host), ``SF360_EDGE_SPLIT`` (0; 1 runs ``--apps core`` and ``--apps execution`` apart, the hosts then also
get ``[core] execution_api_server_url`` and ``[sf360] api_server_url``, and the negative check of the Celery module
runs here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scale.edge_stack import edge3_missing, edge_world
from scale.two_hosts import two_host_run, wiring_check_run
from scale.worlds import TwoHostWorld
from tests.scale.conftest import logs_kept_if_a_test_fails, postgres_binaries, report_figures

pytestmark = [pytest.mark.scale, pytest.mark.timeout(600)]

TASKS = 32
# One wave: 2 hosts x 16 slots run all 32 tasks at once, so every rotation is contested by all of them, and the
# run takes half the time of two waves of 8 slots per host (87 s against 137 s measured with 20 s tasks).
TASK_SECONDS = float(os.environ.get("SF360_EDGE_TASK_SECONDS", 25))
CONCURRENCY = int(os.environ.get("SF360_EDGE_CONCURRENCY", 16))
SPLIT = os.environ.get("SF360_EDGE_SPLIT", "0") == "1"


@pytest.fixture(scope="module")
def edge_stack(request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[TwoHostWorld]:
    """The running Edge stack; its logs go to ``test-artifacts/edge-logs/`` when a test of the module fails."""
    pg_bin = postgres_binaries(edge3_missing())
    with edge_world(pg_bin, concurrency=CONCURRENCY, split_api_servers=SPLIT) as world, \
            logs_kept_if_a_test_fails(request, world.world.work_dir, artifacts_dir / "edge-logs"):
        yield world


def test_edge_hosts_without_the_metadata_db_keep_the_token_family(
    edge_stack: TwoHostWorld, capsys: pytest.CaptureFixture[str], artifacts_dir: Path
) -> None:
    figures = two_host_run(edge_stack, TASKS, TASK_SECONDS)
    layout = ", split api-servers" if edge_stack.split_api_servers else ""
    title = f"Edge run{layout}: two hosts without the metadata DB, slow network, one late refresh answer"
    report_figures(capsys, artifacts_dir, title, figures.as_dict())
    assert figures.problems() == []
    assert figures.refresh_token_grants >= 2  # tokens really expired during the run
    assert figures.api_calls == figures.rest_requests


def test_split_layout_without_the_sf360_api_server_url_fails_the_edge_task_at_once(
    edge_stack: TwoHostWorld, capsys: pytest.CaptureFixture[str], artifacts_dir: Path
) -> None:
    if not edge_stack.split_api_servers:
        pytest.skip("SF360_EDGE_SPLIT is not 1: the Celery module runs the split layout's negative check")
    figures = wiring_check_run(edge_stack)
    title = "Edge, split layout, the task has no [sf360] api_server_url"
    report_figures(capsys, artifacts_dir, title, figures.as_dict())
    assert figures.problems() == []
