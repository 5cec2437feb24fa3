from __future__ import annotations

from collections.abc import Callable

import pytest

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Product, StringKeyItem, UUIDItem
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

Named = Product | UUIDItem | StringKeyItem


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Product, lambda: Product.objects.create(name="a")),
        (UUIDItem, lambda: UUIDItem.objects.create(name="a")),
        (
            StringKeyItem,
            lambda: StringKeyItem.objects.create(code="key/with spaces é", name="a"),
        ),
    ],
)
def test_history_of_one_object_newest_first(
    track: Track, model: type[Named], make: Callable[[], Named]
) -> None:
    track(model)
    obj = make()
    other: Named
    if model is StringKeyItem:
        other = StringKeyItem.objects.create(code="other", name="b")
    else:
        other = make()
    for value in ("b", "c"):
        obj.name = value
        obj.save()
    history = list(autoaudit.history(obj))
    assert [log.action for log in history] == ["update", "update", "create"]
    assert [log.new_values["name"] for log in history] == ["c", "b", "a"]
    assert list(ActivityLog.objects.for_instance(obj)) == history
    assert ActivityLog.objects.for_instance(other).count() == 1
    assert ActivityLog.objects.for_model(model).count() == 4
    assert ActivityLog.objects.for_model(model._meta.label).count() == 4
    assert history[0].get_target_instance() == obj


def test_history_survives_deletion(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="gone")
    pk = product.pk
    product.delete()
    logs = list(ActivityLog.objects.filter(computed_entity="testapp.Product", entity_pk=str(pk)))
    assert [log.action for log in logs] == ["delete", "create"]
    assert logs[0].get_target_instance() is None
