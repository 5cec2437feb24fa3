"""``autoaudit_protect``: database triggers that make ``activity_logs`` append-only.

PostgreSQL only. A row trigger rejects ``UPDATE`` and ``DELETE`` and a
statement trigger rejects ``TRUNCATE``, unless the transaction set
``autoaudit.maintenance`` to ``on`` (``set_config(..., true)``: it ends with
the transaction), which only autoaudit's own forget, prune and archive do
(:func:`autoaudit.lifecycle.maintenance.maintenance`). One ``UPDATE`` is let
through as well: setting ``user_id`` to NULL and nothing else, which is what
Django does to a deleted user's logs (``on_delete=SET_NULL``).

What this stops and what it does not is in docs/security.md: it stops the
application, an ORM call, a stray script or a console session from
rewriting history; it does not stop the table's owner, who can drop or
disable the triggers, or anyone who sets the maintenance flag on purpose.
"""

from __future__ import annotations

from django.db import connections

from autoaudit.lifecycle.maintenance import MAINTENANCE_SETTING

FUNCTION = "autoaudit_protect_activity_logs"
ROW_TRIGGER = "autoaudit_protect_rows"
TRUNCATE_TRIGGER = "autoaudit_protect_truncate"


class ProtectError(Exception):
    """Protection cannot be installed here (the message says why)."""


def _require_postgresql(alias: str) -> None:
    vendor = connections[alias].vendor
    if vendor == "postgresql":
        return
    if vendor == "sqlite":
        why = (
            "SQLite triggers can reject UPDATE and DELETE (RAISE(ABORT)), but a "
            "trigger there cannot see any per-transaction or per-connection state, "
            "so autoaudit's own prune, archive and forget could no longer run; and "
            "anyone who can write the database file can rewrite it."
        )
    else:
        why = (
            "MariaDB/MySQL triggers can reject UPDATE and DELETE (SIGNAL), but no "
            "trigger fires on TRUNCATE, and their only escape for autoaudit's own "
            "prune, archive and forget would be a session variable. Protect the "
            "table with privileges instead: see docs/security.md."
        )
    raise ProtectError(f"autoaudit_protect supports PostgreSQL only. {why}")


def _table(alias: str) -> tuple[str, str]:
    from autoaudit.models import ActivityLog

    ops = connections[alias].ops
    user = ActivityLog._meta.get_field("user").column
    return ops.quote_name(ActivityLog._meta.db_table), user


def install_sql(alias: str) -> list[str]:
    """The statements that install protection (idempotent)."""
    table, user = _table(alias)
    return [
        f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF coalesce(current_setting('{MAINTENANCE_SETTING}', true), '') = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.{user} IS NULL
       AND (to_jsonb(OLD) - '{user}') = (to_jsonb(NEW) - '{user}') THEN
        RETURN NEW;  -- on_delete=SET_NULL of a deleted user
    END IF;
    RAISE EXCEPTION 'autoaudit: % on % is not allowed: the activity log is append-only '
        '(autoaudit_protect; run manage.py autoaudit_protect --remove to lift it)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$fn$""",
        f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON {table}",
        f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {table}",
        f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
    ]


def remove_sql(alias: str) -> list[str]:
    """The statements that remove protection (idempotent)."""
    table, _user = _table(alias)
    return [
        f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON {table}",
        f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {table}",
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
    ]


def _run(alias: str, statements: list[str]) -> None:
    from django.db import transaction

    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(alias: str) -> None:
    """Install the triggers on ``alias`` (PostgreSQL; else :class:`ProtectError`)."""
    _require_postgresql(alias)
    _run(alias, install_sql(alias))


def remove(alias: str) -> None:
    """Remove the triggers from ``alias``."""
    _require_postgresql(alias)
    _run(alias, remove_sql(alias))


def installed(alias: str) -> bool:
    """Whether both triggers are on the table."""
    from autoaudit.models import ActivityLog

    if connections[alias].vendor != "postgresql":
        return False
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid) AND t.tgname IN (%s, %s) "
            "AND t.tgenabled <> 'D'",
            [ActivityLog._meta.db_table, ROW_TRIGGER, TRUNCATE_TRIGGER],
        )
        row = cursor.fetchone()
    return bool(row) and row[0] == 2
