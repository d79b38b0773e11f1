"""Local exposure: media file modes, the embedded PostgreSQL's own configuration, private email files."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection

from config import devservices

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "faces" / "images"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.django_db
def test_stored_source_photo_is_0640_in_0750_folders(settings, tmp_path):
    """A photo stored through the service (as import and crawl do) is not world-readable (was 0644)."""
    from search import services

    settings.MEDIA_ROOT = str(tmp_path / "media")
    result = services.source_image_store(
        data=(PHOTOS / "img1.jpg").read_bytes(), source_label="modes"
    )
    assert result.image is not None
    path = Path(result.image.file.path)
    assert path.is_relative_to(tmp_path)
    assert _mode(path) == 0o640
    folder = path.parent
    while (
        folder != tmp_path / "media"
    ):  # every folder the storage created: sources/, YYYY/, MM/, ab/
        assert _mode(folder) == 0o750, folder
        folder = folder.parent


@pytest.mark.django_db
def test_embedded_postgres_answers_on_its_socket_only():
    """listen_addresses is pinned in the server's own config, and pg_hba has no TCP ('host') lines."""
    pgdata = devservices._pg_dir()
    hba_lines = [
        line.split()[0]
        for line in (pgdata / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert hba_lines == ["local"]
    settings_lines = [
        line.strip()
        for line in (pgdata / "postgresql.conf").read_text().splitlines()
        if line.strip().startswith("listen_addresses")
    ]
    assert settings_lines[-1] == "listen_addresses = ''"
    with connection.cursor() as cursor:
        cursor.execute("SHOW listen_addresses")
        assert cursor.fetchone()[0] == ""
        cursor.execute("SELECT count(*) FROM pg_hba_file_rules WHERE type <> 'local'")
        assert cursor.fetchone()[0] == 0


INITDB_HBA = """# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
"""


def test_an_existing_data_directory_is_fixed(tmp_path):
    """A data directory made before this fix (initdb's trust 'host' lines, default listen) is rewritten."""
    (tmp_path / "pg_hba.conf").write_text(INITDB_HBA)
    (tmp_path / "postgresql.conf").write_text(
        "#listen_addresses = 'localhost'\nlisten_addresses = '*'\nport = 5432\n"
    )
    assert devservices.harden_postgres_config(tmp_path) is True
    assert "host" not in (tmp_path / "pg_hba.conf").read_text().replace("# Written", "")
    conf = (tmp_path / "postgresql.conf").read_text()
    assert "listen_addresses = '*'" not in conf
    assert conf.rstrip().endswith("listen_addresses = ''")
    assert "port = 5432" in conf
    assert (
        devservices.harden_postgres_config(tmp_path) is False
    )  # idempotent: nothing to reload next time


def test_development_email_goes_to_private_files_and_the_log_shows_no_body(
    settings, tmp_path, caplog
):
    """The body holds secret links: it is written to a 0600 file in a 0700 folder, never logged."""
    settings.EMAIL_BACKEND = "config.mail.PrivateFileEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    secret_link = "http://127.0.0.1:8123/rights/status/SECRET-TOKEN-abc123/"
    with caplog.at_level(logging.INFO, logger="config.mail"):
        sent = mail.send_mail("Your request", f"Follow {secret_link}", None, ["person@example.org"])
    assert sent == 1
    files = list((tmp_path / "mail").iterdir())
    assert len(files) == 1
    assert _mode(tmp_path / "mail") == 0o700
    assert _mode(files[0]) == 0o600
    assert secret_link in files[0].read_text()
    assert "Your request" in caplog.text
    assert "person@example.org" in caplog.text
    assert str(files[0]) in caplog.text
    assert "SECRET-TOKEN" not in caplog.text


def test_development_settings_send_email_to_files(settings):
    """Without EMAIL_URL the project's settings choose the private file backend under .data/mail."""
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; import django; django.setup();"
        "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_FILE_PATH)"
    )
    unset = ("EMAIL_URL", "EMAIL_FILE_PATH", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    backend, path = out.stdout.split()
    assert backend == "config.mail.PrivateFileEmailBackend"
    assert path.endswith("/.data/mail")


def test_plain_pg_ctl_start_opens_no_tcp_port(tmp_path, monkeypatch):
    """A fresh embedded data directory, then started by hand with a plain ``pg_ctl start`` (no ``-h ''``).

    Before the fix initdb's defaults made that listen on 127.0.0.1 with trust authentication.
    """
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    tmp_path.chmod(0o755)  # the postgres system user must reach its data directory
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        devservices, "STARTED", devservices.Started()
    )  # leave the session's record alone
    devservices.ensure_postgres()
    devservices.stop_postgres()
    pgdata = devservices._pg_dir()
    port = devservices.free_port()
    sockets = tmp_path / "sockets"
    sockets.mkdir(mode=0o777)
    sockets.chmod(0o777)
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(
        ["-w", "-o", f"-p {port} -k {sockets}", "-l", str(pgdata / "plain.log"), "start"],
        pgdata=pgdata,
        user=user,
    )
    try:
        assert any(
            name.startswith(".s.PGSQL.") for name in os.listdir(sockets)
        )  # it is up, on its socket
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
