"""Table ownership for the audit log: the app's role appends, another role owns.

PostgreSQL lets a table's owner (and a superuser) disable its triggers, truncate it and rewrite it;
``session_replication_role`` (which silences every trigger) needs a superuser. So in production:

- ``AUDIT_OWNER_ROLE`` (default ``facesearch_audit``, NOLOGIN) owns the audit tables, their
  sequences, the append-only trigger functions and the redaction function;
- the app's role (not a superuser, not a member of the owner role) may SELECT and INSERT, UPDATE
  only the columns the sequencer fills in, and redact only through the redaction function (which
  runs as the owner: SECURITY DEFINER with a pinned search_path). It cannot ALTER the table,
  DISABLE its trigger, TRUNCATE it or SET session_replication_role.

:func:`audit_roles_setup` does this given a connection of a role that may (a superuser, or the
tables' current owner with CREATEROLE). It is idempotent: run it after every ``migrate`` (new
audit tables are created by the role that migrates). docs/operations.md gives the same as SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

OWNER_ROLE = "facesearch_audit"
# Columns the sequencer sets on rows already inserted (the trigger still checks the rest).
SEQUENCER_COLUMNS: dict[str, tuple[str, ...]] = {"compliance_auditevent": ("leaf_index",)}
# Functions the app calls that must write as the owner (name prefix match in schema public).
DEFINER_FUNCTIONS = ("compliance_audit_redact",)


@dataclass
class RolesReport:
    owner: str
    app_role: str
    tables: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def audit_tables() -> list[str]:
    """The audit app's tables (Django's registry), the audit events table first."""
    from django.apps import apps

    tables = [m._meta.db_table for m in apps.get_app_config("audit").get_models()]
    return sorted(set(tables), key=lambda t: (t != "compliance_auditevent", t))


def _one(cursor: Any, query: Any, params: Iterable[Any] = ()) -> Any:
    cursor.execute(query, list(params))
    row = cursor.fetchone()
    return row[0] if row else None


def audit_roles_setup(
    connection: Any,
    *,
    app_role: str,
    owner: str = OWNER_ROLE,
    tables: list[str] | None = None,
    app_login: bool = False,
) -> RolesReport:
    """Make ``owner`` own the audit tables and give ``app_role`` only what the app needs.

    ``connection``: a psycopg connection of a superuser or of the tables' owner. With
    ``app_login`` the app role is created (LOGIN, no password: for a server that trusts its local
    socket, as the embedded development one does) when missing.
    """
    report = RolesReport(owner=owner, app_role=app_role, tables=tables or audit_tables())
    ident = sql.Identifier
    with connection.cursor() as cur:
        for role, login in ((owner, False), (app_role, app_login)):
            if not _one(cur, "SELECT 1 FROM pg_roles WHERE rolname = %s", [role]):
                if role == app_role and not app_login:
                    raise ValueError(f"No role {app_role!r}: create the app's role first.")
                cur.execute(
                    sql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN")).format(
                        ident(role)
                    )
                )
        if _one(cur, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role]):
            report.warnings.append(
                f"{app_role} is a superuser: it can still disable triggers and rewrite the log."
            )
        if _one(cur, "SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner]):
            report.warnings.append(f"{app_role} is a member of {owner}: it acts as the owner.")
        for table in report.tables:
            t = ident(table)
            cur.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(t, ident(owner)))
            cur.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(t, ident(app_role)))
            cur.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(t, ident(app_role)))
            columns = SEQUENCER_COLUMNS.get(table, ())
            existing = _columns(cur, table)
            wanted = [c for c in columns if c in existing]
            if wanted:
                cur.execute(
                    sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                        sql.SQL(", ").join(map(ident, wanted)), t, ident(app_role)
                    )
                )
            cur.execute(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                "JOIN pg_class t ON d.refobjid = t.oid WHERE s.relkind = 'S' AND t.relname = %s",
                [table],
            )
            for (seq,) in cur.fetchall():
                cur.execute(
                    sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                        ident(seq), ident(app_role)
                    )
                )
        for signature, definer in _functions(cur, report.tables):
            name = sql.SQL(signature)  # regprocedure text: schema-qualified, already quoted
            cur.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(name, ident(owner)))
            if definer:
                cur.execute(
                    sql.SQL(
                        "ALTER FUNCTION {} SECURITY DEFINER SET search_path = pg_catalog, public"
                    ).format(name)
                )
            report.functions.append(signature)
    connection.commit()
    return report


def _columns(cur: Any, table: str) -> set[str]:
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped",
        [table],
    )
    return {r[0] for r in cur.fetchall()}


def _functions(cur: Any, tables: list[str]) -> list[tuple[str, bool]]:
    """(signature, runs as owner) of the audit tables' trigger functions and the definer ones."""
    cur.execute(
        "SELECT DISTINCT tg.tgfoid::regprocedure::text FROM pg_trigger tg "
        "JOIN pg_class c ON c.oid = tg.tgrelid WHERE NOT tg.tgisinternal AND c.relname = ANY(%s)",
        [tables],
    )
    found = [(r[0], False) for r in cur.fetchall()]
    for prefix in DEFINER_FUNCTIONS:
        cur.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname LIKE %s",
            [prefix + "%"],
        )
        found += [(r[0], True) for r in cur.fetchall()]
    return found


def app_role_grants(connection: Any, *, app_role: str, skip: list[str]) -> None:
    """Development only: give the app role full use of every other table in schema public
    (the embedded server's tables are created by the superuser that migrates)."""
    ident = sql.Identifier
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm')"
        )
        for name, kind in cur.fetchall():
            owned_by_skipped = kind == "S" and _one(
                cur,
                "SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid "
                "WHERE d.objid = %s::regclass AND d.deptype = 'a'",
                [name],
            )
            if name in skip or owned_by_skipped in skip:
                continue
            what = "SEQUENCE " if kind == "S" else ""
            cur.execute(
                sql.SQL("GRANT ALL ON " + what + "{} TO {}").format(ident(name), ident(app_role))
            )
        cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(app_role)))
    connection.commit()


DEV_APP_ROLE = "facesearch_app"


def dev_app_role_env() -> dict[str, str]:
    """`make run` on the embedded server: give the audit tables to the owner role and return the
    ``DATABASE_URL`` of a non-owner login role for the web server, worker and beat.

    Nothing (an empty dict) with an external database (``DATABASE_URL`` set: its roles are set up
    by its administrators, docs/operations.md) or ``AUDIT_DEV_APP_ROLE=0``.
    """
    import os
    from urllib.parse import quote

    from django.conf import settings
    from django.db import connection

    if os.environ.get("DATABASE_URL") or os.environ.get("AUDIT_DEV_APP_ROLE", "1") == "0":
        return {}
    connection.ensure_connection()
    raw = connection.connection
    report = audit_roles_setup(raw, app_role=DEV_APP_ROLE, app_login=True)
    app_role_grants(raw, app_role=DEV_APP_ROLE, skip=report.tables)
    db = settings.DATABASES["default"]
    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return {"DATABASE_URL": f"postgres://{DEV_APP_ROLE}@{host}{port}/{db['NAME']}"}
