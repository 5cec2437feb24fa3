"""Who may read which logs (autoaudit.access)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission, User

from autoaudit.access import VIEW_ALL_PERMISSION, can_view_all, visible_logs
from autoaudit.models import ActivityLog
from tests.ui_factories import make_logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, User]:
    return {
        "alice": User.objects.create_user("alice", "alice@example.com", "x"),
        "bob": User.objects.create_user("bob", "bob@example.com", "x"),
        "root": User.objects.create_superuser("root", "root@example.com", "x"),
    }


@pytest.fixture
def logs(people: dict[str, User]) -> None:
    make_logs(3, user=people["alice"])
    make_logs(2, user=people["bob"])
    make_logs(4)  # guests
    make_logs(1, actor_type="system", actor_identifier=None, actor_name=None)


def _view_permission() -> Permission:
    return Permission.objects.get(codename="view_activitylog", content_type__app_label="autoaudit")


def test_anonymous_and_missing_users_see_nothing(logs: None) -> None:
    assert visible_logs(AnonymousUser()).count() == 0
    assert visible_logs(None).count() == 0
    assert not can_view_all(AnonymousUser())
    assert not can_view_all(None)


def test_a_user_sees_only_their_own(people: dict[str, User], logs: None) -> None:
    alice = people["alice"]
    seen = visible_logs(alice)
    assert seen.count() == 3
    assert set(seen.values_list("user_id", flat=True)) == {alice.pk}
    assert not can_view_all(alice)


def test_the_view_permission_shows_everything(people: dict[str, User], logs: None) -> None:
    bob = people["bob"]
    bob.user_permissions.add(_view_permission())
    bob = User.objects.get(pk=bob.pk)  # fresh permission cache
    assert can_view_all(bob)
    assert visible_logs(bob).count() == ActivityLog.objects.count() == 10


def test_the_permission_through_a_group(people: dict[str, User], logs: None) -> None:
    managers = Group.objects.create(name="managers")
    managers.permissions.add(_view_permission())
    people["alice"].groups.add(managers)
    alice = User.objects.get(pk=people["alice"].pk)
    assert visible_logs(alice).count() == 10


def test_superusers_see_everything(people: dict[str, User], logs: None) -> None:
    assert can_view_all(people["root"])
    assert visible_logs(people["root"]).count() == 10


def test_inactive_users_see_nothing(people: dict[str, User], logs: None) -> None:
    for name in ("alice", "root"):
        user = people[name]
        user.is_active = False
        assert visible_logs(user).count() == 0
        assert not can_view_all(user)


def test_narrows_a_given_queryset(people: dict[str, User], logs: None) -> None:
    alice, root = people["alice"], people["root"]
    guests = ActivityLog.objects.guests()
    assert visible_logs(alice, guests).count() == 0
    assert visible_logs(root, guests).count() == 4
    assert visible_logs(alice, ActivityLog.objects.users()).count() == 3


def test_permission_name() -> None:
    assert VIEW_ALL_PERMISSION == "autoaudit.view_activitylog"
