"""The stack shared by the distributed-run tests (marked ``scale``)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scale.harness import postgres_bin_dir
from scale.scenarios import World, copy_logs, scale_world, table

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
    skip_or_fail(unavailable())
    pg_bin = postgres_bin_dir()
    assert pg_bin is not None
    with scale_world(
        pg_bin,
        parallelism=_int_env("SF360_SCALE_PARALLELISM", 16),
        session_timeout=_int_env("SF360_SCALE_SESSION_TIMEOUT", 15),
    ) as world:
        failed_before = request.session.testsfailed
        yield world
        if request.session.testsfailed > failed_before:
            copy_logs(world.work_dir, artifacts_dir / "scale-logs")
