"""Host-local locks: threads of a process and processes of one host queue here for one credential.

A re-entrant lock per credential inside the process, then an ``flock`` on a file in a private directory
(``<tmp>/sf360-locks-<uid>``, created 0700 by this user; a directory another user created, a symlink or one
with loose permissions is refused). Both waits have a deadline. These locks never span hosts: cross-host
exclusion comes from the metadata database (``store/db_lock.py``), which tasks reach through the api-server.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from airflow_provider_sf360.core.errors import LockDirectoryError, SalesforceUnreachableError
from airflow_provider_sf360.core.renewal import TokenStore

DEFAULT_LOCK_WAIT_SECONDS = 300.0
_POLL_SECONDS = (0.005, 0.05)  # contended flock polls from 5 ms, backing off to 50 ms (waiting only, never exclusion)

_registry_guard = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_held = threading.local()


def _thread_lock(key: str) -> threading.RLock:
    with _registry_guard:
        return _thread_locks.setdefault(key, threading.RLock())


def lock_directory() -> Path:
    """This user's private lock directory, created if missing and checked every time."""
    folder = Path(tempfile.gettempdir()) / f"sf360-locks-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LockDirectoryError(f"{folder} is not a directory (a symlink or a file was planted there); remove it.")
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise LockDirectoryError(
            f"{folder} belongs to another user or is open to others (mode {stat.S_IMODE(info.st_mode):o}); "
            "remove it (it is recreated private), or point TMPDIR at a private directory."
        )
    return folder


def _waited_too_long(what: str, seconds: float) -> SalesforceUnreachableError:
    return SalesforceUnreachableError(
        f"Waited {seconds:.0f} s for {what} renewing the same Salesforce token on this host; it may be stuck. "
        "Nothing was redeemed; the task can be retried."
    )


@contextmanager
def _file_lock(key: str, wait_seconds: float) -> Iterator[None]:
    path = lock_directory() / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise LockDirectoryError(
            f"{path} could not be opened safely ({os.strerror(error.errno or 0)}; a planted symlink?); remove it."
        ) from None
    try:
        deadline = time.monotonic() + wait_seconds
        delay = _POLL_SECONDS[0]
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                    raise _waited_too_long("another process", wait_seconds) from None
            time.sleep(delay)
            delay = min(delay * 2, _POLL_SECONDS[1])
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _thread_and_file_lock(key: str, wait_seconds: float) -> Iterator[None]:
    lock = _thread_lock(key)
    if not lock.acquire(timeout=wait_seconds):
        raise _waited_too_long("another thread", wait_seconds)
    try:
        with _file_lock(key, wait_seconds):
            yield
    finally:
        lock.release()


def once_per_thread(layer: str, key: str, acquire: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    """Enter ``acquire()`` unless this thread already holds ``layer`` for ``key`` (re-entrancy)."""
    held: set[str] = getattr(_held, layer, set())
    if key in held:
        yield
        return
    with acquire():
        setattr(_held, layer, held | {key})
        try:
            yield
        finally:
            setattr(_held, layer, held)


class HostLock:
    """The host-local lock of one credential (threads and processes of this host), re-entrant per thread.

    :param key: the credential's state key.
    :param wait_seconds: how long to wait for another holder before giving up (retryable error).
    """

    def __init__(self, key: str, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> None:
        self.key = key
        self.wait_seconds = wait_seconds

    @contextmanager
    def hold(self) -> Iterator[None]:
        yield from once_per_thread("host", self.key, lambda: _thread_and_file_lock(self.key, self.wait_seconds))


class HostCredentialLock:
    """Exclusion on one host only: for machine flows (no refresh token to lose), and for refresh flows where no
    api-server is reachable (``dag.test()``, ``airflow tasks test``), where it is correct for one host.

    :param store: the store to read and write while holding the lock.
    :param host_lock: this credential's host lock.
    """

    def __init__(self, store: TokenStore, host_lock: HostLock) -> None:
        self.store = store
        self.host_lock = host_lock

    def queue_on_host(self) -> AbstractContextManager[None]:
        return self.host_lock.hold()

    @contextmanager
    def exclusive(self) -> Iterator[TokenStore]:
        with self.host_lock.hold():
            yield self.store
