"""The stack shared by the distributed-run tests (marked ``scale``)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scale.harness import postgres_bin_dir
from scale.scenarios import World, copy_logs, table
from scale.worlds import scale_world

REQUIRE = "SF360_REQUIRE_SCALE"


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def skip_or_fail(reason: str | None) -> None:
    """Skip the test when a piece of the run is missing here, or fail it when ``SF360_REQUIRE_SCALE`` is set (CI).

    :param reason: what is missing, or None when everything is there.
    """
    if reason:
        if os.environ.get(REQUIRE):
            pytest.fail(f"{REQUIRE} is set but {reason}")
        pytest.skip(reason)


def report_figures(capsys: pytest.CaptureFixture[str], artifacts_dir: Path, title: str,
                   figures: dict[str, object]) -> None:
    """Print a run's figures as a table and append it to ``test-artifacts/scale-figures.md``.

    :param title: the table's heading.
    :param figures: figure name -> value.
    """
    text = table(title, figures)
    with capsys.disabled():
        print(f"\n{text}\n")
    with open(artifacts_dir / "scale-figures.md", "a") as out:
        out.write(text + "\n\n")


def postgres_binaries(also_missing: str | None = None) -> Path:
    """PostgreSQL's binary folder, after :func:`skip_or_fail` on anything the run lacks.

    :param also_missing: what else the calling module lacks (None: nothing).
    """
    skip_or_fail(unavailable() or also_missing)
    pg_bin = postgres_bin_dir()
    assert pg_bin is not None
    return pg_bin


@contextmanager
def logs_kept_if_a_test_fails(request: pytest.FixtureRequest, work_dir: Path, destination: Path) -> Iterator[None]:
    """Copy the run's logs to ``destination`` when a test of the module failed while the block ran."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        copy_logs(work_dir, destination)


def unavailable() -> str | None:
    """Why the run cannot start here, or None."""
    if postgres_bin_dir() is None:
        return "PostgreSQL binaries not found (Debian: apt-get install -y postgresql)"
    if importlib.util.find_spec("asyncpg") is None:
        return "asyncpg is not installed (Airflow 3's async engine needs it for PostgreSQL: pip install asyncpg)"
    return None


@pytest.fixture(scope="module")
def scale_stack(request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[World]:
    """PostgreSQL, the emulator (rotation on, short session timeout) and a real Airflow stack, token set up.

    When a test of the module failed, the run's logs are copied to ``test-artifacts/scale-logs/``.
    """
    with scale_world(
        postgres_binaries(),
        parallelism=_int_env("SF360_SCALE_PARALLELISM", 16),
        session_timeout=_int_env("SF360_SCALE_SESSION_TIMEOUT", 15),
    ) as world, logs_kept_if_a_test_fails(request, world.work_dir, artifacts_dir / "scale-logs"):
        yield world
