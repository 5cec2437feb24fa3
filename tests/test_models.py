"""``autoaudit.models.ActivityLog``: fields, enums, methods and the manager."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone
from model_bakery import baker

import autoaudit
from autoaudit.enums import ActionType, ActorType
from autoaudit.models import ActivityLog
from tests.testapp.models import Product, ProductProxy, StringKeyItem, UUIDItem

User = get_user_model()


def _field(name: str) -> Any:
    return ActivityLog._meta.get_field(name)


def _log(**kwargs: Any) -> ActivityLog:
    defaults: dict[str, Any] = {
        "actor_type": ActorType.SYSTEM,
        "action": ActionType.UPDATE,
        "entity": "product",
        "computed_entity": "testapp.Product",
    }
    defaults.update(kwargs)
    return ActivityLog.objects.create(**defaults)


def _log_for(obj: models.Model, **kwargs: Any) -> ActivityLog:
    pk = obj.pk
    kwargs.setdefault("entity", obj._meta.model_name)
    kwargs.setdefault("computed_entity", f"{obj._meta.app_label}.{type(obj).__name__}")
    kwargs.setdefault("entity_id", pk if isinstance(pk, int) else None)
    kwargs.setdefault("entity_pk", str(pk))
    return _log(**kwargs)


def _age(log: ActivityLog, minutes: int) -> None:
    """Move a log's ``created_at`` into the past (auto_now_add ignores input)."""
    when = timezone.now() - timedelta(minutes=minutes)
    ActivityLog.objects.filter(pk=log.pk).update(created_at=when)


# --- fields ----------------------------------------------------------------


def test_table_and_ordering() -> None:
    meta = ActivityLog._meta
    assert meta.db_table == "activity_logs"
    assert list(meta.ordering or ()) == ["-created_at", "-id"]
    assert meta.app_label == "autoaudit"


@pytest.mark.parametrize(
    ("name", "field_class", "max_length", "null"),
    [
        ("actor_type", models.CharField, 6, False),
        ("actor_identifier", models.CharField, 255, True),
        ("actor_name", models.CharField, 255, True),
        ("action", models.CharField, 12, False),
        ("entity", models.CharField, 50, False),
        ("computed_entity", models.CharField, 100, False),
        ("entity_pk", models.CharField, 255, True),
        ("entity_name", models.CharField, 255, True),
    ],
)
def test_char_fields(
    name: str, field_class: type[models.Field[Any, Any]], max_length: int, null: bool
) -> None:
    field = _field(name)
    assert type(field) is field_class
    assert field.max_length == max_length
    assert field.null is null


@pytest.mark.parametrize(
    ("name", "field_class"),
    [
        ("id", models.BigAutoField),
        ("entity_id", models.BigIntegerField),
        ("ip_address", models.GenericIPAddressField),
        ("description", models.TextField),
        ("user_agent", models.TextField),
        ("actor_metadata", models.JSONField),
        ("old_values", models.JSONField),
        ("new_values", models.JSONField),
        ("changed_fields", models.JSONField),
        ("extra_data", models.JSONField),
        ("created_at", models.DateTimeField),
    ],
)
def test_other_field_types(name: str, field_class: type[models.Field[Any, Any]]) -> None:
    field = _field(name)
    # The JSON columns use a faster-decoding subclass that migrations (and
    # so the schema) see as the plain Django field.
    assert isinstance(field, field_class)
    assert field.deconstruct()[1] == f"django.db.models.{field_class.__name__}"


@pytest.mark.parametrize(
    "name",
    [
        "entity_id",
        "ip_address",
        "description",
        "user_agent",
        "actor_metadata",
        "old_values",
        "new_values",
        "changed_fields",
        "extra_data",
        "user",
    ],
)
def test_nullable_fields(name: str) -> None:
    assert _field(name).null is True


def test_field_names_are_the_seeds_plus_entity_pk_and_wave_2() -> None:
    names = {f.name for f in ActivityLog._meta.concrete_fields}
    assert names == {
        "id",
        "user",
        "actor_type",
        "actor_identifier",
        "actor_name",
        "actor_metadata",
        "action",
        "entity",
        "computed_entity",
        "entity_id",
        "entity_pk",
        "entity_name",
        "old_values",
        "new_values",
        "changed_fields",
        "description",
        "ip_address",
        "user_agent",
        "extra_data",
        "created_at",
        # API.md, "New columns on ActivityLog"
        "request_id",
        "tags",
        "related_entity_type",
        "related_entity_id",
        "changes_summary",
        # WRITE_MODE="task": a retried task inserts its rows once (migration 0006)
        "write_id",
    }
    assert _field("user").column == "user_id"


def test_actor_type_field() -> None:
    field = _field("actor_type")
    assert field.default == ActorType.USER
    values = {value for value, _label in field.choices}
    assert values == {"user", "guest", "system"}
    assert all(len(value) <= field.max_length for value in values)


def test_action_field_fits_every_action() -> None:
    field = _field("action")
    assert {value for value, _label in field.choices} == set(ActionType.values)
    assert all(len(value) <= 12 for value in ActionType.values)
    assert max(len(value) for value in ActionType.values) == len("login_failed")


def test_created_at_is_auto_now_add() -> None:
    field = _field("created_at")
    assert field.auto_now_add is True
    assert field.auto_now is False


def test_user_foreign_key() -> None:
    field = _field("user")
    assert isinstance(field, models.ForeignKey)
    assert field.remote_field.model is User
    assert User._meta.label == settings.AUTH_USER_MODEL
    assert field.remote_field.on_delete is models.SET_NULL
    assert field.remote_field.related_name == "activity_logs"
    assert field.null is True
    assert field.blank is True


# --- enums -----------------------------------------------------------------


def test_actor_type_values() -> None:
    assert ActorType.USER.value == "user"
    assert ActorType.GUEST.value == "guest"
    assert ActorType.SYSTEM.value == "system"
    assert set(ActorType.values) == {"user", "guest", "system"}


def test_action_type_values() -> None:
    assert set(ActionType.values) == {
        "create",
        "update",
        "delete",
        "view",
        "login",
        "logout",
        "upload",
        "download",
        "activate",
        "deactivate",
        "publish",
        "unpublish",
        "login_failed",
    }
    assert ActionType.LOGIN_FAILED.value == "login_failed"
    assert ActionType.CREATE.value == "create"
    assert ActionType.UNPUBLISH.value == "unpublish"


def test_enums_importable_from_package() -> None:
    assert autoaudit.ActorType is ActorType
    assert autoaudit.ActionType is ActionType
    assert "ActorType" in autoaudit.__all__
    assert "ActionType" in autoaudit.__all__


# --- get_actor_display_name ------------------------------------------------


@pytest.mark.django_db
def test_display_name_user_with_full_name() -> None:
    user = baker.make(User, username="jdoe", first_name="Jane", last_name="Doe")
    log = _log(actor_type=ActorType.USER, user=user, actor_name="stale name")
    assert log.get_actor_display_name() == "Jane Doe"


@pytest.mark.django_db
def test_display_name_user_without_full_name() -> None:
    user = baker.make(User, username="jdoe", first_name="", last_name="")
    log = _log(actor_type=ActorType.USER, user=user)
    assert log.get_actor_display_name() == "jdoe"
    # Read back from the database too.
    assert ActivityLog.objects.get(pk=log.pk).get_actor_display_name() == "jdoe"


@pytest.mark.django_db
def test_display_name_deleted_user() -> None:
    user = baker.make(User, username="gone", first_name="Gone", last_name="User")
    named = _log(actor_type=ActorType.USER, user=user, actor_name="Gone User")
    unnamed = _log(actor_type=ActorType.USER, user=user)
    user.delete()
    named.refresh_from_db()
    unnamed.refresh_from_db()
    assert named.user_id is None  # SET_NULL
    assert named.get_actor_display_name() == "Gone User"
    name = unnamed.get_actor_display_name()
    assert isinstance(name, str)
    assert name
    assert name == "Deleted user"


def test_display_name_guest_with_name() -> None:
    log = ActivityLog(actor_type=ActorType.GUEST, actor_name="Budi")
    assert log.get_actor_display_name() == "Budi"


@pytest.mark.parametrize("actor_name", [None, ""])
def test_display_name_guest_without_name(actor_name: str | None) -> None:
    log = ActivityLog(actor_type=ActorType.GUEST, actor_name=actor_name)
    assert log.get_actor_display_name() == "Anonymous Guest"


def test_display_name_system() -> None:
    assert ActivityLog(actor_type=ActorType.SYSTEM).get_actor_display_name() == "System"


def test_display_name_system_with_name() -> None:
    log = ActivityLog(actor_type=ActorType.SYSTEM, actor_name="nightly-import")
    assert log.get_actor_display_name() == "nightly-import"


def test_display_name_is_plain_str() -> None:
    # Lazy translation proxies must not leak out (templates, JSON, f-strings).
    for actor_type in ActorType.values:
        assert type(ActivityLog(actor_type=actor_type).get_actor_display_name()) is str


# --- __str__ -----------------------------------------------------------------


def test_str_system() -> None:
    log = ActivityLog(actor_type=ActorType.SYSTEM, action="create", entity="product")
    assert str(log) == "System create product"


def test_str_guest() -> None:
    log = ActivityLog(
        actor_type=ActorType.GUEST, actor_name="Budi", action="view", entity="product"
    )
    assert str(log) == "Budi view product"


@pytest.mark.django_db
def test_str_user() -> None:
    user = baker.make(User, username="admin", first_name="Ada", last_name="Admin")
    log = _log(actor_type=ActorType.USER, user=user, action="delete", entity="order")
    assert str(log) == "Ada Admin delete order"


# --- get_target_model_class ----------------------------------------------------


@pytest.mark.parametrize(
    ("computed_entity", "expected"),
    [
        ("testapp.Product", Product),
        ("testapp.product", Product),
        ("testapp.ProductProxy", ProductProxy),
        ("testapp.UUIDItem", UUIDItem),
        ("auth.User", User),
    ],
)
def test_target_model_class(computed_entity: str, expected: type) -> None:
    log = ActivityLog(computed_entity=computed_entity)
    assert log.get_target_model_class() is expected


@pytest.mark.parametrize(
    "computed_entity",
    ["nope.Gone", "testapp.Gone", "a.b.c", "", None, "Product", ".", "testapp.", 42],
)
def test_target_model_class_invalid(computed_entity: Any) -> None:
    log = ActivityLog(computed_entity=computed_entity)
    assert log.get_target_model_class() is None


# --- get_target_instance -------------------------------------------------------


@pytest.mark.django_db
def test_target_instance_int_pk() -> None:
    product = baker.make(Product)
    log = _log_for(product)
    assert log.entity_id == product.pk
    assert log.get_target_instance() == product


@pytest.mark.django_db
def test_target_instance_seed_row_with_entity_id_only() -> None:
    product = baker.make(Product)
    log = _log(entity_id=product.pk, entity_pk=None)
    assert log.get_target_instance() == product


@pytest.mark.django_db
def test_target_instance_uuid_pk() -> None:
    item = baker.make(UUIDItem)
    log = _log_for(item)
    assert log.entity_id is None
    assert log.entity_pk == str(item.pk)
    log.refresh_from_db()
    assert log.get_target_instance() == item


@pytest.mark.django_db
def test_target_instance_string_pk() -> None:
    item = baker.make(StringKeyItem, code="SKU/ä 42")
    log = _log_for(item)
    log.refresh_from_db()
    target = log.get_target_instance()
    assert target == item
    assert isinstance(target, StringKeyItem)


@pytest.mark.django_db
def test_target_instance_proxy() -> None:
    product = baker.make(Product)
    log = _log(computed_entity="testapp.ProductProxy", entity_pk=str(product.pk))
    target = log.get_target_instance()
    assert isinstance(target, ProductProxy)
    assert target.pk == product.pk


@pytest.mark.django_db
def test_target_instance_deleted() -> None:
    product = baker.make(Product)
    log = _log_for(product)
    product.delete()
    assert log.get_target_instance() is None


@pytest.mark.django_db
@pytest.mark.parametrize("computed_entity", ["nope.Gone", "testapp.Gone"])
def test_target_instance_removed_model(computed_entity: str) -> None:
    log = _log(computed_entity=computed_entity, entity_id=1, entity_pk="1")
    assert log.get_target_instance() is None


@pytest.mark.django_db
@pytest.mark.parametrize("computed_entity", ["a.b.c", "", "Product", "."])
def test_target_instance_malformed_computed_entity(computed_entity: str) -> None:
    baker.make(Product, id=1)
    log = _log(computed_entity=computed_entity, entity_id=1, entity_pk="1")
    assert log.get_target_instance() is None


def test_target_instance_none_computed_entity() -> None:
    # NULL where the column is NOT NULL: a row written outside the ORM
    log = ActivityLog(computed_entity=None, entity_id=1, entity_pk="1")  # type: ignore[misc]
    assert log.get_target_instance() is None


def test_target_instance_without_pk() -> None:
    log = ActivityLog(computed_entity="testapp.Product", entity_id=None, entity_pk=None)
    assert log.get_target_instance() is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("computed_entity", "entity_pk"),
    [
        ("testapp.UUIDItem", "not-a-uuid"),
        ("testapp.UUIDItem", ""),
        ("testapp.UUIDItem", "1"),
        ("testapp.Product", "not-a-number"),
        ("testapp.Product", ""),
        ("testapp.Product", "1.5"),
        ("testapp.Product", "9" * 30),
        ("testapp.StringKeyItem", "missing"),
    ],
)
def test_target_instance_garbage_pk_returns_none(computed_entity: str, entity_pk: str) -> None:
    baker.make(UUIDItem)
    baker.make(Product)
    log = _log(computed_entity=computed_entity, entity_pk=entity_pk)
    assert log.get_target_instance() is None


@pytest.mark.django_db
def test_target_instance_other_uuid_returns_none() -> None:
    baker.make(UUIDItem)
    log = _log(computed_entity="testapp.UUIDItem", entity_pk=str(uuid.uuid4()))
    assert log.get_target_instance() is None


# --- extra_data ------------------------------------------------------------------


def test_get_extra_value() -> None:
    log = ActivityLog(extra_data={"source": "import", "batch": None})
    assert log.get_extra_value("source") == "import"
    assert log.get_extra_value("batch", "fallback") is None  # present, even if None
    assert log.get_extra_value("missing") is None
    assert log.get_extra_value("missing", "fallback") == "fallback"


@pytest.mark.parametrize("extra_data", [None, [], ["source"], "source", 3, {}])
def test_get_extra_value_tolerates_odd_extra_data(extra_data: Any) -> None:
    log = ActivityLog(extra_data=extra_data)
    assert log.get_extra_value("source") is None
    assert log.get_extra_value("source", default="d") == "d"


def test_set_extra_value_on_none() -> None:
    log = ActivityLog(extra_data=None)
    log.set_extra_value("batch_id", "b-12")
    assert log.extra_data == {"batch_id": "b-12"}


@pytest.mark.parametrize("extra_data", [["x"], "text", 7])
def test_set_extra_value_replaces_non_dict(extra_data: Any) -> None:
    log = ActivityLog(extra_data=extra_data)
    log.set_extra_value("k", 1)
    assert log.extra_data == {"k": 1}


def test_set_extra_value_keeps_other_keys() -> None:
    log = ActivityLog(extra_data={"a": 1})
    log.set_extra_value("b", {"nested": True})
    log.set_extra_value("a", 2)
    assert log.extra_data == {"a": 2, "b": {"nested": True}}
    assert log.get_extra_value("b") == {"nested": True}


@pytest.mark.django_db
def test_set_extra_value_persists_after_save() -> None:
    log = _log()
    log.set_extra_value("source", "shopify")
    log.save()
    log.refresh_from_db()
    assert log.extra_data == {"source": "shopify"}
    assert log.get_extra_value("source") == "shopify"


# --- querysets ------------------------------------------------------------------


@pytest.mark.django_db
def test_default_ordering_newest_first_with_id_tiebreak() -> None:
    old = _log()
    new = _log()
    tie_a = _log()
    tie_b = _log()
    _age(old, 60)
    _age(new, 1)
    same = timezone.now() - timedelta(minutes=30)
    ActivityLog.objects.filter(pk__in=[tie_a.pk, tie_b.pk]).update(created_at=same)
    assert list(ActivityLog.objects.all()) == [new, tie_b, tie_a, old]
    assert ActivityLog.objects.latest() == new


@pytest.mark.django_db
def test_for_instance_newest_first() -> None:
    product, other = baker.make(Product, _quantity=2)
    first = _log_for(product, action="create")
    second = _log_for(product, action="update")
    third = _log_for(product, action="delete")
    _log_for(other)
    _log(computed_entity="testapp.UUIDItem", entity_pk=str(product.pk))
    _age(first, 30)
    _age(second, 20)
    _age(third, 10)
    assert list(ActivityLog.objects.for_instance(product)) == [third, second, first]
    assert list(autoaudit.history(product)) == [third, second, first]


@pytest.mark.django_db
def test_for_instance_uuid_and_string_keys() -> None:
    uuid_item = baker.make(UUIDItem)
    str_item = baker.make(StringKeyItem, code="abc-1")
    uuid_log = _log_for(uuid_item)
    str_log = _log_for(str_item)
    baker.make(StringKeyItem, code="abc-2")
    assert list(ActivityLog.objects.for_instance(uuid_item)) == [uuid_log]
    assert list(ActivityLog.objects.for_instance(str_item)) == [str_log]


@pytest.mark.django_db
def test_for_model_by_label_and_class() -> None:
    p1, p2 = baker.make(Product, _quantity=2)
    a = _log_for(p1)
    b = _log_for(p2)
    _log_for(baker.make(UUIDItem))
    _age(a, 10)
    expected = [b, a]
    assert list(ActivityLog.objects.for_model(Product)) == expected
    assert list(ActivityLog.objects.for_model("testapp.Product")) == expected


@pytest.mark.django_db
def test_for_model_unknown_label_filters_literally() -> None:
    gone = _log(computed_entity="nope.Gone")
    _log()
    assert list(ActivityLog.objects.for_model("nope.Gone")) == [gone]
    assert list(ActivityLog.objects.for_model("a.b.c")) == []


@pytest.mark.django_db
def test_for_actor_user_and_identifier() -> None:
    alice, bob = baker.make(User, _quantity=2)
    a1 = _log(actor_type=ActorType.USER, user=alice, actor_identifier="alice@x.test")
    a2 = _log(actor_type=ActorType.USER, user=alice, actor_identifier="alice@x.test")
    _log(actor_type=ActorType.USER, user=bob, actor_identifier="bob@x.test")
    guest = _log(actor_type=ActorType.GUEST, actor_identifier="alice@x.test")
    _age(a1, 30)
    _age(guest, 20)
    assert list(ActivityLog.objects.for_actor(alice)) == [a2, a1]
    assert list(ActivityLog.objects.for_actor("alice@x.test")) == [a2, guest, a1]
    assert list(ActivityLog.objects.for_actor("nobody")) == []
    assert list(alice.activity_logs.all()) == [a2, a1]


@pytest.mark.django_db
def test_users_guests_system() -> None:
    user = baker.make(User)
    u1 = _log(actor_type=ActorType.USER, user=user)
    g1 = _log(actor_type=ActorType.GUEST, actor_identifier="1.2.3.4")
    s1 = _log(actor_type=ActorType.SYSTEM)
    u2 = _log(actor_type=ActorType.USER, user=user)
    g2 = _log(actor_type=ActorType.GUEST, actor_identifier="5.6.7.8")
    _age(u1, 10)
    _age(g1, 10)
    assert list(ActivityLog.objects.users()) == [u2, u1]
    assert list(ActivityLog.objects.guests()) == [g2, g1]
    assert list(ActivityLog.objects.system()) == [s1]


@pytest.mark.django_db
def test_queryset_methods_chain() -> None:
    user = baker.make(User)
    product = baker.make(Product)
    mine = _log_for(product, actor_type=ActorType.USER, user=user)
    _log_for(product, actor_type=ActorType.GUEST)
    qs = ActivityLog.objects.for_model(Product).users().for_actor(user)
    assert list(qs) == [mine]
    assert list(ActivityLog.objects.filter(pk=mine.pk).for_instance(product)) == [mine]


# --- create_for_instance ----------------------------------------------------------


@pytest.mark.django_db
def test_create_for_instance() -> None:
    product = baker.make(Product, name="Laptop")
    log = ActivityLog.create_for_instance(
        product, ActionType.UPDATE, extra_data={"integration_source": "shopify"}
    )
    assert log.pk is not None
    stored = ActivityLog.objects.get(pk=log.pk)
    assert stored.action == "update"
    assert stored.entity == "product"
    assert stored.computed_entity == "testapp.Product"
    assert stored.entity_id == product.pk
    assert stored.entity_pk == str(product.pk)
    assert stored.entity_name == "Laptop"
    assert stored.actor_type == ActorType.SYSTEM
    assert stored.get_extra_value("integration_source") == "shopify"
    assert stored.get_target_instance() == product
    assert list(ActivityLog.objects.for_instance(product)) == [stored]


@pytest.mark.django_db
def test_create_for_instance_uuid_key() -> None:
    item = baker.make(UUIDItem, name="thing")
    log = ActivityLog.create_for_instance(item, ActionType.VIEW)
    stored = ActivityLog.objects.get(pk=log.pk)
    assert stored.entity == "uuiditem"
    assert stored.computed_entity == "testapp.UUIDItem"
    assert stored.entity_id is None
    assert stored.entity_pk == str(item.pk)
    assert stored.get_target_instance() == item


@pytest.mark.django_db
def test_loaded_rows_match_djangos_own_loading() -> None:
    """The fast ``from_db`` path builds the same instance Django would."""
    log = ActivityLog.objects.create(
        actor_type="guest",
        action="update",
        entity="product",
        computed_entity="testapp.Product",
        entity_pk="7",
        old_values={"price": "1.00", "tags": [" a ", {"k": None}]},
        new_values={"price": "2.00", "tags": []},
        changed_fields=["price", "tags"],
        actor_metadata={"device": "Desktop"},
        extra_data={"batch": "b-1"},
    )
    fast = ActivityLog.objects.get(pk=log.pk)
    values = [getattr(fast, f.attname) for f in ActivityLog._meta.concrete_fields]
    slow = cast(Any, ActivityLog)(*values)  # as Model.from_db() does
    assert fast.__dict__.keys() - {"_state"} == slow.__dict__.keys() - {"_state"}
    for f in ActivityLog._meta.concrete_fields:
        assert getattr(fast, f.attname) == getattr(slow, f.attname), f.name
    assert fast.old_values == {"price": "1.00", "tags": [" a ", {"k": None}]}
    assert fast._state.adding is False
    assert fast._state.db == "default"
    # Deferred columns and rows of classes with init receivers take Django's path.
    partial = ActivityLog.objects.only("action").get(pk=log.pk)
    assert partial.get_deferred_fields() >= {"old_values"}
    assert partial.old_values == fast.old_values


@pytest.mark.django_db
def test_loading_sends_post_init_when_someone_listens() -> None:
    from django.db.models.signals import post_init

    seen: list[ActivityLog] = []

    def receiver(sender: type, instance: ActivityLog, **kwargs: object) -> None:
        seen.append(instance)

    ActivityLog.objects.create(action="view", entity="x", computed_entity="a.X")
    list(ActivityLog.objects.all())
    assert seen == []
    post_init.connect(receiver, sender=ActivityLog)
    try:
        loaded = list(ActivityLog.objects.all())
    finally:
        post_init.disconnect(receiver, sender=ActivityLog)
    assert seen == loaded


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}),
        (' {"a": 1} ', {"a": 1}),  # surrounding whitespace: Django's own path
        ('"text"', "text"),
        ("not json", "not json"),  # as Django: undecodable text is returned as is
        ('{"a": 1} trailing', '{"a": 1} trailing'),
        (None, None),
    ],
)
def test_log_json_field_decodes_like_django(text: str | None, value: object) -> None:
    field = ActivityLog._meta.get_field("old_values")
    plain = models.JSONField()
    column = field.get_col(ActivityLog._meta.db_table)  # what a query passes
    assert field.from_db_value(text, column, connection) == value
    assert plain.from_db_value(text, column, connection) == value


@pytest.mark.django_db
def test_an_unsaved_log_caches_its_user() -> None:
    from autoaudit.tracking import store
    from autoaudit.tracking.record import assemble

    user = baker.make(get_user_model())
    with autoaudit.actor(user=user):
        draft = assemble("view", entity=("report", "report"))
    log = store.unsaved(draft)
    assert isinstance(log, ActivityLog)
    assert log._state.adding is True
    assert log.user_id == user.pk
    assert log.user is user  # cached: no query
    for name, value in draft.columns().items():
        assert getattr(log, name) == value, name


# --- get_actor_display_name: no query per row (issue 18) ---------------------


def _user_logs(product: Product, count: int) -> None:
    for i in range(count):
        user = baker.make(User, username=f"u{i}", first_name=f"First{i}", last_name="Last")
        _log_for(product, actor_type=ActorType.USER, user=user, actor_name=f"First{i} Last")


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 10])
def test_display_names_of_a_history_page_cost_one_query(
    count: int, django_assert_num_queries: Any
) -> None:
    product = baker.make(Product)
    _user_logs(product, count)
    with django_assert_num_queries(1):  # the page itself; no user per row
        names = [log.get_actor_display_name() for log in autoaudit.history(product)]
    assert sorted(names) == sorted(f"First{i} Last" for i in range(count))
    with django_assert_num_queries(1):  # the join: the user's name as it is now
        rows = list(autoaudit.history(product).select_related("user"))
        assert {log.get_actor_display_name() for log in rows} == set(names)


@pytest.mark.django_db
def test_display_name_prefers_a_loaded_user_over_the_stored_name() -> None:
    user = baker.make(User, username="jdoe", first_name="Jane", last_name="Doe")
    log = _log(actor_type=ActorType.USER, user=user, actor_name="Jane Before")
    assert log.get_actor_display_name() == "Jane Doe"  # the instance given
    assert ActivityLog.objects.get(pk=log.pk).get_actor_display_name() == "Jane Before"
    joined = ActivityLog.objects.select_related("user").get(pk=log.pk)
    assert joined.get_actor_display_name() == "Jane Doe"


@pytest.mark.django_db
def test_display_name_of_a_user_row_without_a_stored_name_reads_the_user_once(
    django_assert_num_queries: Any,
) -> None:
    user = baker.make(User, username="jdoe", first_name="", last_name="")
    pk = _log(actor_type=ActorType.USER, user=user, actor_name=None).pk
    log = ActivityLog.objects.get(pk=pk)
    with django_assert_num_queries(1):
        assert log.get_actor_display_name() == "jdoe"
        assert log.get_actor_display_name() == "jdoe"  # cached now


@pytest.mark.django_db
def test_display_name_of_a_user_missing_from_the_database() -> None:
    # No database constraint: the user may live elsewhere or be gone.
    log = _log(actor_type=ActorType.USER, user_id=987654, actor_identifier="ghost@example.com")
    assert ActivityLog.objects.get(pk=log.pk).get_actor_display_name() == "ghost@example.com"


@pytest.mark.django_db(transaction=True)
def test_display_name_from_async_code_does_not_query() -> None:
    user = baker.make(User, username="jdoe", first_name="Jane", last_name="Doe")
    named = _log(actor_type=ActorType.USER, user=user, actor_name="Jane Doe")
    unnamed = _log(actor_type=ActorType.USER, user=user, actor_identifier="jane@example.com")
    rows = list(ActivityLog.objects.filter(pk__in=[named.pk, unnamed.pk]).order_by("pk"))

    async def names() -> list[str]:
        # Called straight from a coroutine: a query here would raise
        # SynchronousOnlyOperation.
        return [log.get_actor_display_name() for log in rows]

    assert asyncio.run(names()) == ["Jane Doe", "jane@example.com"]
