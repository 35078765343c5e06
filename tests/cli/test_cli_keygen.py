"""``sf360 keygen --out``: the certificate is written first, never through a symlink, and only then is the key
stored; a certificate that cannot be written leaves the connection as it was and audits no success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.cli.main import main
from tests.helpers.connections import stored_connection

pytestmark = pytest.mark.timeout(180)
PRECIOUS = "a file the attacker wants overwritten\n"


def _keygen_outcomes(conn_id: str) -> list[str]:
    """The outcomes of the ``sf360.keygen`` audit entries about ``conn_id``, oldest first."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Log).where(Log.event == "sf360.keygen").order_by(Log.id)).all()
        extras = [json.loads(row.extra or "{}") for row in rows]
    return [extra["outcome"] for extra in extras if extra.get("conn_id") == conn_id]


def _private_key(conn_id: str) -> str | None:
    return stored_connection(conn_id)["extra"].get("private_key")


@pytest.mark.parametrize("force", [False, True])
def test_keygen_out_refuses_a_planted_symlink(
    make_connection: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, force: bool
) -> None:
    conn_id = make_connection(f"sf360_keygen_link_{force}".lower())
    victim = tmp_path / "victim.txt"
    victim.write_text(PRECIOUS)
    planted = tmp_path / "sf360.crt"
    planted.symlink_to(victim)
    code = main(["keygen", conn_id, "--out", str(planted), *(["--force"] if force else [])])
    err = capsys.readouterr().err
    assert code == 1 and "Cannot write the certificate" in err and "Nothing was stored" in err
    assert "Traceback" not in err and "PRIVATE KEY" not in err
    assert victim.read_text() == PRECIOUS and planted.is_symlink()
    assert _private_key(conn_id) is None
    assert "success" not in _keygen_outcomes(conn_id)


def test_keygen_force_with_an_unwritable_out_keeps_the_stored_key(
    make_connection: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    conn_id = make_connection("sf360_keygen_unwritable")
    assert main(["keygen", conn_id]) == 0
    key_before = _private_key(conn_id)
    assert key_before and _keygen_outcomes(conn_id) == ["success"]
    capsys.readouterr()
    for out in (tmp_path / "no-such-directory" / "sf360.crt", tmp_path):  # a missing folder, a directory
        code = main(["keygen", conn_id, "--force", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 1 and "Cannot write the certificate" in err and "Traceback" not in err, err
        assert _private_key(conn_id) == key_before  # JWT keeps working with the uploaded certificate
    assert _keygen_outcomes(conn_id) == ["success", "failed", "failed"]


def test_keygen_writes_a_new_certificate_file_only_with_force(
    make_connection: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    conn_id = make_connection("sf360_keygen_existing")
    existing = tmp_path / "sf360.crt"
    existing.write_text(PRECIOUS)
    assert main(["keygen", conn_id, "--out", str(existing)]) == 1
    assert "--force" in capsys.readouterr().err
    assert existing.read_text() == PRECIOUS and _private_key(conn_id) is None
    assert main(["keygen", conn_id, "--force", "--out", str(existing)]) == 0
    cert = x509.load_pem_x509_certificate(existing.read_bytes())
    key = serialization.load_pem_private_key((_private_key(conn_id) or "").encode(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def test_keygen_for_a_connection_it_may_not_change_writes_no_file(
    make_connection: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "sf360.crt"
    assert main(["keygen", "sf360_keygen_nowhere", "--out", str(out)]) == 2
    assert "There is no sf360 connection" in capsys.readouterr().err
    assert not out.exists()
