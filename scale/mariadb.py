"""A throwaway MariaDB server on 127.0.0.1 for Airflow's metadata DB (Debian's ``mariadb-server``, PyPI drivers).

Airflow 3 needs two drivers for MySQL/MariaDB: the sync one named in the URL (``mysql+pymysql://``: PyMySQL is pure
Python, unlike mysqlclient, which needs C headers) and ``aiomysql`` for the async engine Airflow derives from the
same URL (``airflow/settings.py::_get_async_conn_uri_from_sync``). The server runs as the ``mysql`` user when this
process is root (``mariadbd`` refuses root), with its data, socket and log in ``root``; nothing is persisted.
"""

from __future__ import annotations

import getpass
import importlib.util
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scale.harness import Processes, free_port, wait_for

PYTHON_DRIVERS = (("pymysql", "PyMySQL"), ("aiomysql", "aiomysql"))


def mariadb_binaries() -> tuple[str, str, str] | None:
    """(``mariadb-install-db``, ``mariadbd``, ``mariadb`` client) from Debian's packages, or None."""
    found = [shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
             for name in ("mariadb-install-db", "mariadbd", "mariadb")]
    if not all(found):
        return None
    return (str(found[0]), str(found[1]), str(found[2]))


def missing_python_driver() -> str | None:
    """The PyPI package Airflow needs for MariaDB that is not installed, or None."""
    for module, package in PYTHON_DRIVERS:
        if importlib.util.find_spec(module) is None:
            return package
    return None


@dataclass
class MariaDB:
    """``mariadb-install-db`` into ``root``, then ``mariadbd`` on a free loopback port, with an ``airflow`` user."""

    root: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(12))

    @property
    def socket(self) -> Path:
        return self.root / "mariadb.sock"

    @property
    def url(self) -> str:
        return f"mysql+pymysql://airflow:{self.password}@127.0.0.1:{self.port}/airflow"

    def _user_prefix(self) -> list[str]:
        return ["runuser", "-u", "mysql", "--"] if os.geteuid() == 0 else []

    def start(self, procs: Processes) -> None:
        """Initialise the data directory, start the server under ``procs``, create the database and user."""
        binaries = mariadb_binaries()
        if binaries is None:
            raise RuntimeError("MariaDB not found (Debian: apt-get install -y mariadb-server)")
        install_db, server, _ = binaries
        data = self.root / "data"
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root, data):
                shutil.chown(path, "mysql", "mysql")
        subprocess.run(  # noqa: S603 - fixed argv
            [*self._user_prefix(), install_db, "--no-defaults", f"--datadir={data}", "--skip-test-db",
             "--auth-root-authentication-method=socket", f"--auth-root-socket-user={getpass.getuser()}"],
            check=True, capture_output=True, timeout=180)
        argv = [*self._user_prefix(), server, "--no-defaults", f"--datadir={data}", f"--socket={self.socket}",
                f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.root / 'mariadb.pid'}",
                "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0", "--max-connections=300",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                f"--log-error={self.root / 'mariadb.log'}"]
        procs.start("mariadb", argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        wait_for(lambda: self.socket.exists(), 60, "mariadbd to open its socket", interval=0.2)
        self.sql(f"CREATE DATABASE airflow CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci; "
                 f"CREATE USER 'airflow'@'127.0.0.1' IDENTIFIED BY '{self.password}'; "
                 "GRANT ALL PRIVILEGES ON airflow.* TO 'airflow'@'127.0.0.1';")

    def sql(self, statements: str) -> str:
        """Run SQL as the server's root (socket authentication as this process's OS user); its output."""
        binaries = mariadb_binaries()
        assert binaries is not None
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(  # noqa: S603 - fixed argv
                [binaries[2], "--no-defaults", f"--socket={self.socket}", "-uroot",
                 "-N", "-B", "-e", statements], capture_output=True, text=True, timeout=60)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb client failed: {done.stderr[-2000:]}")
        return done.stdout
