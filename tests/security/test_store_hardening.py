"""What the store writes and waits on cannot be turned against it.

Lock files live in a private directory this user created (a planted symlink, another owner or loose permissions
are refused), are opened without following links, and every wait has a deadline. Tokens are never stored without
a Fernet key unless the admin says so. Abandoned sign-ins do not leave PKCE verifiers behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from airflow_provider_sf360.core.errors import SalesforceUnreachableError, TokensUnencryptedError
from airflow_provider_sf360.store.locks import HostLock, LockDirectoryError, lock_directory
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, actions_for


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _lock_dir(tmp: Path) -> Path:
    return tmp / f"sf360-locks-{os.geteuid()}"


def test_a_planted_symlink_directory_is_refused_and_nothing_is_created_elsewhere(private_tmp: Path) -> None:
    elsewhere = private_tmp / "elsewhere"
    elsewhere.mkdir()
    _lock_dir(private_tmp).symlink_to(elsewhere)
    with pytest.raises(LockDirectoryError, match="symlink"), HostLock("k").hold():
        pass
    assert list(elsewhere.iterdir()) == []


def test_a_directory_open_to_others_or_owned_by_another_user_is_refused(private_tmp: Path) -> None:
    folder = _lock_dir(private_tmp)
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(LockDirectoryError, match="open to others"):
        lock_directory()
    folder.chmod(0o700)
    if os.geteuid() == 0:  # as root we can hand it to another user, as an attacker's would be
        os.chown(folder, 65534, 65534)
        with pytest.raises(LockDirectoryError, match="another user"):
            lock_directory()


def test_a_planted_symlink_lock_file_is_not_followed(private_tmp: Path) -> None:
    import hashlib

    target = private_tmp / "victim"
    folder = lock_directory()
    (folder / (hashlib.sha256(b"k").hexdigest()[:32] + ".lock")).symlink_to(target)
    with pytest.raises(LockDirectoryError, match="symlink"), HostLock("k").hold():
        pass
    assert not target.exists()


HOLD = """
import fcntl, hashlib, os, sys, time
path = os.path.join(sys.argv[1], hashlib.sha256(b"k").hexdigest()[:32] + ".lock")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_waiting_for_a_held_lock_has_a_deadline(private_tmp: Path) -> None:
    folder = lock_directory()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        started = time.monotonic()
        with pytest.raises(SalesforceUnreachableError, match="Nothing was redeemed"), HostLock(
            "k", wait_seconds=0.5
        ).hold():
            pass
        assert 0.4 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait(10)


@pytest.fixture
def no_fernet_key(monkeypatch: pytest.MonkeyPatch) -> object:
    from airflow.models.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    get_fernet.cache_clear()
    yield
    monkeypatch.undo()
    get_fernet.cache_clear()


def test_tokens_are_not_stored_without_a_fernet_key(
    emulator: SalesforceEmulator, make_connection: ConnFactory, no_fernet_key: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actions = actions_for(make_connection("jwt_bearer"))
    with pytest.raises(TokensUnencryptedError, match="fernet_key"):
        actions.setup()
    assert actions.hook.lifecycle.store.load() is None
    assert emulator.request_counts().get("token", 0) == 0  # refused before asking: no token left alive
    assert emulator.holdings()["by_user_app"] == []
    monkeypatch.setenv("AIRFLOW__SF360__ALLOW_UNENCRYPTED_TOKENS", "True")  # the documented override
    assert actions_for(actions.conn_id).setup().ok


def test_abandoned_sign_ins_leave_no_pkce_verifier(
    emulator: SalesforceEmulator, make_connection: ConnFactory
) -> None:
    from airflow.models.variable import Variable

    from airflow_provider_sf360.store.token_store import PENDING_PREFIX, VariableTokenStore

    def pending_keys() -> list[str]:
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return list(session.scalars(select(Variable.key).where(Variable.key.startswith(PENDING_PREFIX))))

    actions = actions_for(make_connection("authorization_code"))
    actions.start_authorization()
    actions.start_authorization()
    assert len(pending_keys()) == 2
    # One sign-in is older than the authorization code's lifetime: the next one sweeps it.
    stale_key = pending_keys()[0]
    stale = json.loads(Variable.get(stale_key))
    Variable.set(stale_key, json.dumps({**stale, "expires_at": time.time() - 1}))
    actions.start_authorization()
    assert stale_key not in pending_keys() and len(pending_keys()) == 2
    assert isinstance(actions.hook.lifecycle.store, VariableTokenStore)
    actions.delete()  # delete forgets this credential's unfinished sign-ins too
    assert pending_keys() == []
