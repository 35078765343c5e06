"""Test session set-up: one temporary AIRFLOW_HOME with a SQLite metadata DB, reset once per session.

The environment must be set before anything imports airflow, hence at module import time.
"""

from __future__ import annotations

import base64
import os
import pathlib
import tempfile

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
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

ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def airflow_db() -> pathlib.Path:
    """A migrated, empty metadata DB shared by the whole session (reset once: about 3.5 s)."""
    from airflow.utils import db

    db.resetdb()
    return _home


@pytest.fixture(scope="session")
def artifacts_dir() -> pathlib.Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
