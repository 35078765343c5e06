"""The credential lock: at most one token acquisition per credential, across threads, processes and hosts.

Three layers, taken in order:
1. a re-entrant lock per credential inside the process (threads);
2. an ``flock`` on a file in the temp directory (processes on one host, e.g. LocalExecutor workers);
3. a lease in an Airflow Variable (hosts: Celery or Kubernetes workers). Variables have no
   compare-and-set, so the lease uses Fischer's timed mutual exclusion: write your claim only if the
   lease is free, wait ``settle`` seconds, and own it only if your claim is still there. It is safe as
   long as a Variable write lands within ``settle`` seconds of the read that found the lease free; a
   lease expires after ``lease_seconds`` so that a crashed holder cannot block others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from airflow_provider_sf360.core.errors import SalesforceUnreachableError
from airflow_provider_sf360.store.variables import VariableBackend

_registry_guard = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_held = threading.local()


def _thread_lock(key: str) -> threading.RLock:
    with _registry_guard:
        return _thread_locks.setdefault(key, threading.RLock())


@contextmanager
def _file_lock(key: str) -> Iterator[None]:
    folder = Path(tempfile.gettempdir()) / "sf360-locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class CredentialLock:
    """Serialises token acquisition for one credential; re-entrant within a thread."""

    def __init__(
        self,
        key: str,
        variables: VariableBackend,
        *,
        lease_seconds: float = 60.0,
        settle_seconds: float = 0.25,
        wait_seconds: float = 120.0,
    ) -> None:
        self.key = key
        self.lease_key = key.replace("sf360_token__", "sf360_lock__", 1)
        self.variables = variables
        self.lease_seconds = lease_seconds
        self.settle_seconds = settle_seconds
        self.wait_seconds = wait_seconds

    @contextmanager
    def _once_per_thread(self, layer: str, acquire: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
        """Enter ``acquire()`` unless this thread already holds ``layer`` for this credential (re-entrancy)."""
        held: set[str] = getattr(_held, layer, set())
        if self.key in held:
            yield
            return
        with acquire():
            setattr(_held, layer, held | {self.key})
            try:
                yield
            finally:
                setattr(_held, layer, held)

    @contextmanager
    def _host_locks(self) -> Iterator[None]:
        with _thread_lock(self.key), _file_lock(self.key):
            yield

    @contextmanager
    def _all_locks(self) -> Iterator[None]:
        with self.hold_on_host(), self._lease():
            yield

    def hold_on_host(self) -> AbstractContextManager[None]:
        """Thread and file lock only: cheap, enough to let waiters on this host re-read the renewed token."""
        return self._once_per_thread("host", self._host_locks)

    def hold(self) -> AbstractContextManager[None]:
        """All three layers (thread, file, cross-host lease); re-entrant, skipping the layers already held."""
        return self._once_per_thread("full", self._all_locks)

    def _read_lease(self) -> dict[str, object] | None:
        raw = self.variables.get(self.lease_key)
        if not raw:
            return None
        try:
            lease = json.loads(raw)
        except ValueError:
            return None
        return lease if isinstance(lease, dict) else None

    def _is_free(self, lease: dict[str, object] | None) -> bool:
        expires = lease.get("expires_at") if lease else None
        return lease is None or not isinstance(expires, (int, float)) or expires < time.time()

    @contextmanager
    def _lease(self) -> Iterator[None]:
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if self._is_free(self._read_lease()):
                claim = {"owner": owner, "expires_at": time.time() + self.lease_seconds}
                self.variables.set(self.lease_key, json.dumps(claim), "sf360: token renewal lease (managed)")
                time.sleep(self.settle_seconds)
                current = self._read_lease()
                if current is not None and current.get("owner") == owner:
                    break
            if time.monotonic() > deadline:
                raise SalesforceUnreachableError(
                    f"Waited {self.wait_seconds:.0f} s for another task to finish renewing the token "
                    f"({self.lease_key}); it may have crashed. The lease expires by itself; retry the task."
                )
            time.sleep(0.1 + random.random() * 0.3)
        try:
            yield
        finally:
            current = self._read_lease()
            if current is not None and current.get("owner") == owner:
                self.variables.delete(self.lease_key)
