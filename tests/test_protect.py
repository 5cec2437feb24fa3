"""``autoaudit_protect``: append-only ``activity_logs`` on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from autoaudit.lifecycle.retention import prune
from autoaudit.models import ActivityLog
from tests.seal_support import make_rows, run, seal, verify

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="autoaudit_protect is PostgreSQL only"
)
not_postgres = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL builds the protection"
)


def _rejected(sql: str) -> str:
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(info.value)


@not_postgres
def test_refused_with_the_reason_elsewhere() -> None:
    with pytest.raises(CommandError, match="supports PostgreSQL only") as info:
        run("autoaudit_protect")
    assert ("TRUNCATE" if connection.vendor == "mysql" else "per-transaction") in str(info.value)
    assert run("autoaudit_protect", "--status")[1] == "Protection on 'default': not installed.\n"


@postgres_only
def test_plain_update_delete_and_truncate_fail() -> None:
    rows = make_rows(2)
    assert run("autoaudit_protect")[0] == 0
    assert run("autoaudit_protect")[0] == 0  # idempotent
    assert "installed." in run("autoaudit_protect", "--status")[1]
    table = ActivityLog._meta.db_table
    assert "UPDATE on activity_logs is not allowed" in _rejected(
        f"UPDATE {table} SET entity_name = 'x'"
    )
    assert "DELETE on activity_logs" in _rejected(f"DELETE FROM {table}")
    assert "TRUNCATE on activity_logs" in _rejected(f"TRUNCATE {table}")
    with pytest.raises(DatabaseError), transaction.atomic():
        ActivityLog.objects.filter(pk=rows[0].pk).update(actor_name="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        rows[0].delete()
    make_rows(1, age=None)  # inserting still works
    assert ActivityLog.objects.count() == 3
    assert run("autoaudit_protect", "--remove")[0] == 0
    assert "not installed" in run("autoaudit_protect", "--status")[1]
    ActivityLog.objects.filter(pk=rows[0].pk).update(actor_name="x")


@postgres_only
def test_autoaudits_own_commands_still_work(tmp_path: Path, django_user_model: type[User]) -> None:
    user = django_user_model.objects.create(username="ann")
    make_rows(2, age=dt.timedelta(days=100))
    make_rows(2, age=dt.timedelta(days=40), actor_type="user", user=user)
    kept = make_rows(3)
    seal()
    run("autoaudit_protect")
    assert prune().total == 2
    status, out = run("autoaudit_archive", "--older-than", "30", "--output-dir", str(tmp_path))
    assert status == 0, out
    assert run("autoaudit_forget", "guest1@example.com")[0] == 0
    assert run("autoaudit_forget", "guest2@example.com", "--erase")[0] == 0
    # (The archive's own entry, the audit of the audit log, is a new row.)
    left = ActivityLog.objects.exclude(computed_entity="autoaudit.ActivityLog")
    assert set(left.values_list("id", flat=True)) == {kept[0].pk, kept[1].pk}
    status, report = verify()
    assert status == 0, report
    # A deleted user's logs lose their user link (on_delete=SET_NULL), and only that.
    linked = make_rows(1, age=None, user=user)[0]
    user.delete()
    assert ActivityLog.objects.get(pk=linked.pk).user_id is None
    assert "UPDATE" in _rejected(
        f"UPDATE {ActivityLog._meta.db_table} SET user_id = NULL, actor_name = 'x'"
    )
