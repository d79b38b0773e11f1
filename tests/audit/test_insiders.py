"""Insiders: the four rewrites of issue 21, each committed, each caught against published checkpoints.

Each rewrite runs as the security tester ran it (``manage.py shell`` with the app's credentials; in
the test suite that is the superuser, the worst case), but this time the transaction COMMITS, and
the attacker also rebuilds the database's own tree and re-signs its checkpoints with the key the
app can read. ``audit_verify --trusted`` checks the rows against the checkpoints published before
(an outside directory, written once) and must name the rewrite. Then: as a non-owner app role (the
production setup of audit/roles.py), the tools of the attack are refused outright.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from psycopg import sql

from audit import roles, tlog, witness
from audit.leaves import LEAF_COLUMNS, leaf_from_row, leaf_hash_of
from audit.models import AuditEvent
from compliance.services import audit_record
from tests.tools import bundle_kit as kit


def _append(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit_record(
            actor=None,
            action="tests.insider.event",
            target=f"tests.thing:{i}",
            outcome="success",
            details={"n": i},
        )


def _sequence_all() -> None:
    while tlog.sequence_batch(1000):
        pass


def _fresh_log() -> None:
    """Start from an empty log with its install checkpoint (a reused test database may hold
    checkpoints from earlier runs; the sizes asserted below count from zero)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(map(sql.Identifier, roles.audit_tables()))
            )
        )
    _sequence_all()


@pytest.fixture
def store(transactional_db, tmp_path: Path, settings) -> Path:
    """A log of 12 events with checkpoints at 5, 9 and 12, each published to an outside directory
    by the sequencer itself as its transaction commits (no explicit publishing here)."""
    settings.AUDIT_CHECKPOINT_STORE = str(tmp_path / "published")
    _fresh_log()
    for n in (5, 4, 3):
        _append(n, start=AuditEvent.objects.count())
        _sequence_all()
    published = sorted(p.name for p in (tmp_path / "published").glob("*.note"))
    assert published == ["0.note", "12.note", "5.note", "9.note"], published
    return tmp_path / "published"


def verify(*args: str) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), err.getvalue()
    return 0, out.getvalue()


def _rebuild_tree() -> None:
    """What an insider with the signing key does after rewriting rows: forget the tree and the
    checkpoints in the database and sequence everything again (a fresh, self-consistent log)."""
    tree_tables = [t for t in roles.audit_tables() if t != AuditEvent._meta.db_table]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        for table in tree_tables:
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        cur.execute("UPDATE compliance_auditevent SET leaf_index = NULL")
    _sequence_all()


def test_intact_log_matches_published(store: Path) -> None:
    """No rewrite: every published checkpoint matches the rows (the directory given, and the
    configured store); the catch-up publisher finds nothing missing."""
    code, out = verify("--trusted", str(store))
    assert code == 0, out
    assert '"trusted_checkpoints": 4' in out
    assert verify("--trusted", "store")[0] == 0
    assert witness.checkpoints_publish() == 0


def test_truncate_is_caught(store: Path) -> None:
    """TRUNCATE of the events and of the tree and checkpoints, committed: the database is an empty,
    self-consistent log; the published checkpoints are not."""
    with transaction.atomic(), connection.cursor() as cur:
        tables = ", ".join(f'"{t}"' for t in roles.audit_tables())
        cur.execute(f"TRUNCATE {tables}")
    code, err = verify("--trusted", str(store))
    assert code == 1
    assert "5.note: tree size 5 but the database holds 0 leaves" in err, err


def test_trigger_disabled_edit_and_rehash_is_caught(store: Path) -> None:
    """session_replication_role = replica, leaf 6's outcome edited and its leaf hash recomputed,
    the tree rebuilt and re-signed: the database verifies on its own; not against checkpoint 9."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("UPDATE compliance_auditevent SET outcome = 'failure' WHERE leaf_index = 6")
    row = AuditEvent.objects.filter(leaf_index=6).values_list("seq", *LEAF_COLUMNS).get()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(
            "UPDATE compliance_auditevent SET leaf_hash = %s WHERE seq = %s",
            [leaf_hash_of(leaf_from_row(row[1:])), row[0]],
        )
    _rebuild_tree()
    assert verify()[0] == 0, "the rewrite is self-consistent inside the database"
    code, err = verify("--trusted", str(store))
    assert code == 1
    assert "9.note: the database's tree at size 9 has another root" in err, err


def test_delete_and_rehash_is_caught(store: Path) -> None:
    """Leaf 2 deleted with the trigger off, the tree rebuilt and re-signed (11 leaves)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("DELETE FROM compliance_auditevent WHERE leaf_index = 2")
    _rebuild_tree()
    assert verify()[0] == 0, "the rewrite is self-consistent inside the database"
    code, err = verify("--trusted", str(store))
    assert code == 1
    assert "5.note: the database's tree at size 5 has another root" in err, err


def test_delete_without_rehash_is_caught(store: Path) -> None:
    """Leaf 7 deleted and nothing else: a gap in the leaf indices."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("DELETE FROM compliance_auditevent WHERE leaf_index = 7")
    code, err = verify("--trusted", str(store))
    assert code == 1
    assert "BROKEN" in err, err


def test_redaction_without_redaction_leaf_is_caught(store: Path) -> None:
    """The redaction SQL function called directly on leaf 3's event: details blanked, no leaf."""
    seq = AuditEvent.objects.get(leaf_index=3).seq
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT compliance_audit_redact(%s, %s::jsonb)", [seq, '{"redacted": true}'])
    code, err = verify("--trusted", str(store))
    assert code == 1
    assert "redact" in err.lower(), err


def test_store_refuses_a_forked_checkpoint(store: Path, caplog) -> None:
    """An insider holding the signing key signs another checkpoint of size 9 and pushes it: the
    store refuses (a fork), the sequencer's publishing path logs it, the file is unchanged."""
    original = (store / "9.note").read_text()
    origin = original.split("\n", 1)[0]
    pem = Path(settings.AUDIT_LOG_SIGNING_KEY_FILE).read_bytes()
    forged = kit.note(9, kit.h_leaf(b"another history"), load_pem_private_key(pem, None), origin)
    with pytest.raises(witness.CheckpointConflict, match="holds another checkpoint of size 9"):
        witness.checkpoint_store().put_once(9, forged)
    witness.checkpoint_published(9, forged)
    assert "the outside store holds another one (a fork)" in caplog.text
    assert (store / "9.note").read_text() == original


APP_ROLE = "facesearch_test_app"
OWNER_ROLE = "facesearch_test_audit"


@pytest.fixture
def app_conn(transactional_db):
    """The production setup (audit/roles.py) applied to the test database, and a connection as
    the app's role; everything put back afterwards (the rest of the suite keeps the superuser)."""
    connection.ensure_connection()
    raw = connection.connection
    report = roles.audit_roles_setup(raw, app_role=APP_ROLE, owner=OWNER_ROLE, app_login=True)
    db = connection.settings_dict
    conn = psycopg.connect(
        dbname=db["NAME"], user=APP_ROLE, host=db["HOST"], port=db["PORT"], autocommit=True
    )
    try:
        yield conn, report
    finally:
        conn.close()
        with connection.cursor() as cur:
            for table in report.tables:
                cur.execute(f'ALTER TABLE "{table}" OWNER TO CURRENT_USER')
            for fn in report.functions:
                cur.execute(f"ALTER FUNCTION {fn} OWNER TO CURRENT_USER")
                cur.execute(f"ALTER FUNCTION {fn} SECURITY INVOKER RESET search_path")
            for role in (APP_ROLE, OWNER_ROLE):
                cur.execute(f"DROP OWNED BY {role}")
                cur.execute(f"DROP ROLE {role}")


def test_app_role_cannot_disable_trigger_or_replicate(app_conn) -> None:
    """As the non-owner app role: ALTER TABLE … DISABLE TRIGGER, SET session_replication_role,
    TRUNCATE, UPDATE and DELETE are refused; SELECT and the redaction function still work."""
    conn, report = app_conn
    assert report.warnings == []
    refused = [
        ("ALTER TABLE compliance_auditevent DISABLE TRIGGER ALL", "must be owner"),
        ("SET session_replication_role = replica", "permission denied to set parameter"),
        ("TRUNCATE compliance_auditevent", "permission denied"),
        ("UPDATE compliance_auditevent SET outcome = 'x'", "permission denied"),
        ("DELETE FROM compliance_auditevent", "permission denied"),
        ("ALTER TABLE compliance_auditevent OWNER TO facesearch_test_app", "must be owner"),
    ]
    for statement, message in refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=message):
            conn.execute(statement)
    for statement in (
        "UPDATE audit_checkpoint SET id = id",
        "DELETE FROM audit_checkpoint",
        "UPDATE audit_treenode SET id = id",
        "DELETE FROM audit_treenode",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)
    # What the app needs still works: reading, the sequencer's one column, redaction (as owner).
    assert conn.execute("SELECT count(*) FROM compliance_auditevent").fetchone() is not None
    conn.execute("UPDATE compliance_auditevent SET leaf_index = NULL WHERE false")
    conn.execute("SELECT compliance_audit_redact(-1, '{}'::jsonb)")
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        assert cur.fetchone() == (False,)


def _assert_write_once(store: witness.CheckpointStore, where: str) -> None:
    assert store.put_once(5, "note five\n") is True
    assert store.put_once(5, "note five\n") is False  # the same note again: nothing to do
    with pytest.raises(witness.CheckpointConflict, match="holds another checkpoint"):
        store.put_once(5, "a forked note five\n")
    assert store.put_once(12, "note twelve\n") is True
    assert store.sizes() == {5, 12}
    held = dict(store.notes())
    assert sorted(held.values()) == ["note five\n", "note twelve\n"]
    assert all(name.startswith(where) and name.endswith(".note") for name in held)


def test_directory_store_writes_once(tmp_path: Path) -> None:
    """A directory store: same note twice is a no-op, another note of that size is refused (the
    file is not touched), and files are read-only."""
    store = witness.store_for(f"file://{tmp_path}/held")
    _assert_write_once(store, str(tmp_path / "held"))
    assert (tmp_path / "held" / "5.note").read_text() == "note five\n"
    assert (tmp_path / "held" / "5.note").stat().st_mode & 0o222 == 0


def test_s3_store_writes_once(seaweedfs_server) -> None:
    """The same on a real S3 server (SeaweedFS): If-None-Match put, read back, listed."""
    if not seaweedfs_server.running():
        seaweedfs_server.start()
    url = f"{seaweedfs_server.url}/audit-checkpoints"
    store = witness.store_for(url)
    for key in seaweedfs_server.objects("audit-checkpoints/"):
        seaweedfs_server.client().delete_object(Bucket=store.bucket, Key=key)
    _assert_write_once(store, f"s3://{store.bucket}/audit-checkpoints/")
    assert seaweedfs_server.objects("audit-checkpoints/") == [
        "audit-checkpoints/12.note",
        "audit-checkpoints/5.note",
    ]
