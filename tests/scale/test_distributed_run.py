"""A real distributed run: 32 mapped tasks as separate Task SDK processes under the LocalExecutor.

PostgreSQL metadata DB, ``airflow api-server``, ``scheduler`` and ``dag-processor``; an admin revokes every token
mid-run, then after a new setup every task calls the emulator through ``SF360Hook.get_conn()`` with refresh token
rotation on and a 15 s session timeout. Figures are
printed and written to ``test-artifacts/scale-figures.md``. Knobs: ``SF360_SCALE_TASK_SECONDS`` (30),
``SF360_SCALE_PARALLELISM`` (16), ``SF360_SCALE_SESSION_TIMEOUT`` (15); ``SF360_REQUIRE_SCALE=1`` turns a
missing PostgreSQL into a failure instead of a skip.

The same stack then runs the cold pods (``scale/cold_pods.py``): 1, 8 and 32 task processes that share nothing
but the api-server and the metadata DB each get a JWT bearer and a client credentials token, and the grants per
token lifetime are reported. ``SF360_COLD_PODS`` (``1,8,32``) picks the pod counts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scale.cold_pods import ColdPodFigures, cold_pods_run
from scale.scenarios import World, revocation_run, rotation_run
from tests.scale.conftest import report_figures

pytestmark = [pytest.mark.scale, pytest.mark.timeout(600)]

TASKS = 32
# The run after setting up again is the rotation run: long enough for tokens to expire twice (15 s sessions). The
# Celery and Edge runs carry the long rotation load across hosts.
RECOVERY_SECONDS = float(os.environ.get("SF360_SCALE_TASK_SECONDS", 30))


def test_revocation_fails_fast_then_setup_again_passes(scale_stack: World, capsys: pytest.CaptureFixture[str],
                                                         artifacts_dir: Path) -> None:
    """An admin revokes every token: all tasks fail at once without retries; after a new setup 32 tasks share one
    rotating token again (the rotation run), with no reuse."""
    (artifacts_dir / "scale-figures.md").unlink(missing_ok=True)
    revoked = revocation_run(scale_stack, TASKS)
    report_figures(capsys, artifacts_dir, "Revocation run", revoked.as_dict())
    assert revoked.problems() == []
    assert revoked.run_state == "failed"
    assert revoked.reuse_detections == 0

    setup = scale_stack.stack.helper("setup")
    assert setup["ok"], setup
    recovered = rotation_run(scale_stack, TASKS, RECOVERY_SECONDS)
    report_figures(capsys, artifacts_dir, "Rotation run after setting up again", recovered.as_dict())
    assert recovered.problems() == []
    assert recovered.refresh_token_grants >= 2  # tokens really expired during the run
    assert recovered.api_calls == recovered.rest_requests


COLD_PODS = tuple(int(n) for n in os.environ.get("SF360_COLD_PODS", "1,8,32").split(","))


@pytest.fixture(scope="module")
def cold_pods(scale_stack: World) -> list[ColdPodFigures]:
    """The cold-pods runs, once for the module."""
    return [cold_pods_run(scale_stack, pods) for pods in COLD_PODS]


def test_cold_pods_each_get_machine_tokens_and_the_grants_per_lifetime_are_counted(
    cold_pods: list[ColdPodFigures], capsys: pytest.CaptureFixture[str], artifacts_dir: Path
) -> None:
    for figures in cold_pods:
        report_figures(capsys, artifacts_dir, f"Cold pods: {figures.pods}", figures.as_dict())
    for figures in cold_pods:
        assert figures.problems() == [], figures.pods


def test_cold_pods_cause_one_grant_per_token_lifetime(cold_pods: list[ColdPodFigures]) -> None:
    """JWT bearer and client credentials tokens go through the api-server's lock: one grant however many pods."""
    assert [f.pods for f in cold_pods if not f.meets_goal()] == []
