"""A throwaway Airflow home for offline runs (the demo, smoke jobs, your own scripts against the emulator)."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path


def use_temporary_airflow_home(dags_folder: Path | None = None, prefix: str = "sf360_airflow_") -> Path:
    """Point this process (and the Airflow commands it starts) at a new AIRFLOW_HOME with a SQLite DB.

    Sets a fresh Fernet key, the DAGs folder (default: an empty ``dags`` folder in the home), no example DAGs,
    and ``[sf360] allowed_hosts=127.0.0.1`` so that the emulator may receive tokens. Call it before anything
    imports Airflow; run ``airflow db migrate`` next.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or home / "dags"),
        "AIRFLOW__SF360__ALLOWED_HOSTS": "127.0.0.1",
    })
    return home
