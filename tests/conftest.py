"""Test session set-up: one temporary AIRFLOW_HOME with a SQLite metadata DB, reset once per session.

The environment must be set before anything imports airflow, hence at module import time.
"""

from __future__ import annotations

import base64
import os
import pathlib
import tempfile
from collections.abc import Iterator

import pytest

from tests.helpers.paths import ARTIFACTS, REPO_ROOT
from tests.helpers.secret_scan import produced as _produced

_home = pathlib.Path(tempfile.mkdtemp(prefix="sf360_af_home_"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "example_dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# One Fernet key for this process and every airflow CLI / server it starts (made per run, never committed).
os.environ["AIRFLOW__CORE__FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
os.environ["AIRFLOW__SF360__ALLOWED_HOSTS"] = "127.0.0.1,localhost"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")


@pytest.fixture(scope="session")
def airflow_db() -> pathlib.Path:
    """A migrated, empty metadata DB shared by the whole session (reset once: about 3.5 s)."""
    from airflow.utils import db

    db.resetdb()
    return _home


def _secrets_maskers() -> list[object]:
    """Airflow's secrets maskers this process has created (the provider registers every token it receives)."""
    import sys

    maskers = []
    for name in ("airflow.sdk.log", "airflow.sdk._shared.secrets_masker", "airflow._shared.secrets_masker"):
        module = sys.modules.get(name)
        factory = getattr(module, "_secrets_masker", None)
        if factory is not None:
            maskers.append(factory())
    return maskers


@pytest.fixture(autouse=True)
def _secrets_masked_per_test() -> Iterator[None]:
    """Each test starts with the masks it started with: a masker recompiles one regex of every secret it holds at
    each new secret, so a session of hundreds of tests (thousands of tokens) slows every test after it. Tokens
    are issued per test, so a test never logs an earlier test's token; the secret scan would catch it if one did."""
    saved = [(masker, set(masker.patterns), masker.replacer) for masker in _secrets_maskers()]  # type: ignore[attr-defined]
    yield
    for masker, patterns, replacer in saved:
        masker.patterns, masker.replacer = patterns, replacer  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def artifacts_dir() -> pathlib.Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------------------------------------- secret scan
# Everything the suite produces is scanned once at the end for every secret the emulator issued or received
# (tokens, codes, PKCE verifiers, consumer secrets, the JWT key): captured output, logs and exception texts
# of every test, the pages the UI tests received, Airflow's log files (task, api-server), XComs, rendered fields
# and audit-log extras in the metadata DB, and the artifacts (screenshots aside). tests/scale scans its own logs.
def _database_texts() -> list[str]:
    """XComs, rendered template fields and audit-log extras of the session's metadata DB."""
    import sqlite3

    path = _home / "airflow.db"
    if not path.exists():
        return []
    queries = (
        "SELECT CAST(value AS TEXT) FROM xcom",
        "SELECT CAST(rendered_fields AS TEXT) FROM rendered_task_instance_fields",
        "SELECT extra FROM log",
    )
    texts: list[str] = []
    with sqlite3.connect(path) as db:
        for query in queries:
            try:
                texts += [str(row[0]) for row in db.execute(query) if row[0] is not None]
            except sqlite3.Error:
                continue  # a table this Airflow version does not have
    return texts


# Fixtures that make a test slow or a browser test wherever it lives, so that `make test-fast` never starts a real
# api-server or Chromium because a new test forgot its marker.
_BROWSER_FIXTURES = frozenset({"browser", "admin_page"})
_SLOW_FIXTURES = frozenset({"api_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & _SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _produced.extend(text for _name, text in report.sections)
    if report.longrepr is not None:
        _produced.append(str(report.longrepr))


def _files_produced() -> list[str]:
    texts = []
    for folder in (_home, ARTIFACTS):
        if folder.exists():
            texts += [p.read_text(errors="replace") for p in folder.rglob("*")
                      if p.is_file() and p.suffix in (".log", ".html", ".txt", ".json", ".out")]
    return texts


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from airflow_provider_sf360.testing import SalesforceEmulator

    if not SalesforceEmulator.started or session.config.option.collectonly:
        return
    secrets = {s for emulator in SalesforceEmulator.started for s in emulator.secrets_seen() if len(s) >= 16}
    stored = _database_texts()
    haystack = "\n".join(_produced + _files_produced() + stored)
    leaked = sorted({s[:6] + "…" for s in secrets if s in haystack})
    print(f"\nsecret scan: {len(secrets)} secrets, {len(haystack):,} characters scanned "
          f"({len(stored)} values from the metadata DB), {len(leaked)} leaked")
    if leaked:
        print(f"secret scan FAILED: found {leaked}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
