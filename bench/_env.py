"""Shared set-up for the benchmarks: a throwaway Airflow home, the emulator, connections, the comparison hook.

Everything here must run before Airflow is imported, because Airflow reads its configuration at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_sf360.testing.airflow_home import use_temporary_airflow_home

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
# Inside the venv: outside the linted tree, gitignored with it, removed by `make clean`.
DEPS_DIR = Path(sys.prefix) / "sf360-bench-deps"
COMPARED_PROVIDER = "apache-airflow-providers-salesforce==5.15.1"
JWT_CONN_ID = "sf360_bench_jwt"
CC_CONN_ID = "sf360_bench_cc"
COMMUNITY_JWT_CONN_ID = "salesforce_bench_jwt"
COMMUNITY_CC_CONN_ID = "salesforce_bench_cc"
QUERY = "SELECT Id FROM Account LIMIT 1"

_home: Path | None = None


def ensure_compared_provider(install: bool = True) -> bool:
    """Make ``airflow.providers.salesforce`` importable from ``DEPS_DIR`` (installed there on first use).

    It goes to a private ``--target`` folder with ``--no-deps`` (simple-salesforce is already in the venv;
    pandas is only imported by the hook's DataFrame helpers), so the project venv and ``make test`` stay as
    they are. Returns False when it is not available and could not be installed.
    """
    marker = DEPS_DIR / "airflow" / "providers" / "salesforce" / "hooks" / "salesforce.py"
    if not marker.exists() and install:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--target", str(DEPS_DIR), COMPARED_PROVIDER]
        print(f"installing the comparison target: {' '.join(command)}", file=sys.stderr)
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stderr.strip(), file=sys.stderr)
    if not marker.exists():
        print(f"{COMPARED_PROVIDER} is missing: run `{sys.executable} -m pip install --no-deps --target "
              f"{DEPS_DIR} {COMPARED_PROVIDER}`; its rows are skipped.", file=sys.stderr)
        return False
    _prepend_path(str(DEPS_DIR))
    airflow = sys.modules.get("airflow")
    if airflow is not None and str(DEPS_DIR / "airflow") not in airflow.__path__:
        airflow.__path__.append(str(DEPS_DIR / "airflow"))  # airflow is a pkgutil namespace: extend it late
    return True


def _prepend_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([folder, *paths])


def prepare_airflow_home() -> Path:
    """A temporary AIRFLOW_HOME with SQLite and a Fernet key; idempotent within a process."""
    global _home
    if _home is not None:
        return _home
    if "airflow" in sys.modules:
        raise RuntimeError("prepare_airflow_home() must run before anything imports airflow")
    _home = use_temporary_airflow_home(prefix="sf360-bench-")
    (_home / "tmp").mkdir()
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    # The credential file lock lives in the temp folder: keep ours apart from concurrent test runs.
    os.environ["TMPDIR"] = str(_home / "tmp")
    tempfile.tempdir = None
    return _home


def migrate_db() -> None:
    """Create the metadata DB (SQLite) in the prepared home: the Variables that hold our token live there."""
    prepare_airflow_home()
    from airflow.utils import db

    db.resetdb()


def cleanup() -> None:
    """Delete the temporary Airflow home."""
    if _home is not None:
        shutil.rmtree(_home, ignore_errors=True)


def sf360_conn(flow: str, emu: Any) -> dict[str, Any]:
    """An ``sf360`` connection for the emulator's default world (``jwt_bearer`` or ``client_credentials``)."""
    return dict(emu.sf360_connection(flow, secret=flow != "jwt_bearer"))


def community_conn(flow: str, emu: Any) -> dict[str, Any]:
    """The same credentials as a ``salesforce`` connection of apache-airflow-providers-salesforce."""
    from airflow_provider_sf360.testing import config as world

    if flow == "jwt_bearer":
        extra = {"consumer_key": world.DEFAULT_CONSUMER_KEY, "private_key": emu.jwt_private_key_pem,
                 "domain": "login"}
        return {"conn_type": "salesforce", "login": world.DEFAULT_USERNAME, "extra": extra}
    extra = {"consumer_key": world.DEFAULT_CONSUMER_KEY, "consumer_secret": world.DEFAULT_CONSUMER_SECRET,
             "domain": f"{world.DEFAULT_MY_DOMAIN}.my"}
    return {"conn_type": "salesforce", "extra": extra}


@contextmanager
def emulator() -> Iterator[Any]:
    """A running emulator whose CA is trusted by requests, with the four connections as env variables."""
    from airflow_provider_sf360.testing import SalesforceEmulator

    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    with SalesforceEmulator() as emu:
        os.environ["REQUESTS_CA_BUNDLE"] = emu.ca_bundle
        os.environ["CURL_CA_BUNDLE"] = emu.ca_bundle
        conns = {
            JWT_CONN_ID: sf360_conn("jwt_bearer", emu),
            CC_CONN_ID: sf360_conn("client_credentials", emu),
            COMMUNITY_JWT_CONN_ID: community_conn("jwt_bearer", emu),
            COMMUNITY_CC_CONN_ID: community_conn("client_credentials", emu),
        }
        for conn_id, conn in conns.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        _forget_tokens(JWT_CONN_ID, CC_CONN_ID)
        try:
            yield emu
        finally:
            for conn_id in conns:
                os.environ.pop(f"AIRFLOW_CONN_{conn_id.upper()}", None)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _forget_tokens(*conn_ids: str) -> None:
    """Drop the token state a previous benchmark stored: each emulator is a new Salesforce (another login URL)."""
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    for conn_id in conn_ids:
        SF360Hook(sf360_conn_id=conn_id).lifecycle.store.clear()


def counts_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Per-endpoint request counts between two ``emu.request_counts()`` snapshots."""
    return {key: after.get(key, 0) - before.get(key, 0) for key in after if after.get(key, 0) != before.get(key, 0)}


def versions() -> dict[str, str]:
    """Versions of the measured packages (the comparison provider is read from ``DEPS_DIR``)."""
    from importlib import metadata

    found: dict[str, str] = {"Python": sys.version.split()[0]}
    for name in ("apache-airflow", "apache-airflow-task-sdk", "simple-salesforce", "requests",
                 "airflow-provider-sf360"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    dists = list(metadata.distributions(path=[str(DEPS_DIR)]))
    compared = [d.version for d in dists if d.metadata["Name"] == "apache-airflow-providers-salesforce"]
    found["apache-airflow-providers-salesforce"] = compared[0] if compared else "not installed"
    found["CPUs"] = str(os.cpu_count())
    return found
