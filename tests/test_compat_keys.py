"""Unusual keys: composite primary keys (cause 4), a primary key whose
``str()`` raises (cause 8) and many-to-many through models whose foreign keys
use ``to_field`` (cause 11).

Every test runs ``untracked`` (Django's own behaviour) and ``tracked`` and
asserts the same outcome; the tracked run also checks the logs it must write.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db.models import F

import autoaudit
from autoaudit.models import ActivityLog
from tests.compat_support import TRACKING
from tests.testapp.models import Code, Enrollment, Holder, HolderCode, Ticket, TicketNumber
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


# -- cause 4: composite primary keys ---------------------------------------------
def composite_entity_pk(pk: tuple[Any, ...]) -> str:
    """The intended ``entity_pk`` of a composite key: its JSON list text.

    ``str((1, "ann"))`` is ``"(1, 'ann')"``, Python's repr; the JSON list
    ``'[1, "ann"]'`` can be parsed back by any client and is what the logs of
    a composite key must hold.
    """
    return json.dumps(list(pk))


def _grades() -> list[tuple[int, str, int]]:
    return list(
        Enrollment.objects.order_by("course", "student").values_list("course", "student", "grade")
    )


def _enrollment_logs(action: str) -> list[ActivityLog]:
    return list(
        ActivityLog.objects.filter(computed_entity="testapp.Enrollment", action=action).order_by(
            "entity_pk"
        )
    )


def test_composite_entity_pk_is_a_json_list() -> None:
    assert composite_entity_pk((1, "ann")) == '[1, "ann"]'
    assert str((1, "ann")) == "(1, 'ann')"  # not the format the logs use


@TRACKING
def test_composite_pk_create_and_save(track: Track, tracked: bool) -> None:
    if tracked:
        track(Enrollment)
    created = Enrollment.objects.create(course=1, student="ann", grade=1)
    fresh = Enrollment(course=1, student="bob", grade=2)
    fresh.save()  # a plain save() of a new row: no force_insert
    created.grade = 5
    created.save()
    created.save(update_fields=["grade"])
    loaded = Enrollment.objects.get(pk=(1, "bob"))
    loaded.grade = 6
    loaded.save()
    assert _grades() == [(1, "ann", 5), (1, "bob", 6)]
    if tracked:
        creates = _enrollment_logs("create")
        assert [log.entity_pk for log in creates] == [
            composite_entity_pk((1, "ann")),
            composite_entity_pk((1, "bob")),
        ]
        assert all(log.entity_id is None for log in creates)
        updates = _enrollment_logs("update")
        assert [(log.entity_pk, log.old_values, log.new_values) for log in updates] == [
            (composite_entity_pk((1, "ann")), {"grade": 1}, {"grade": 5}),
            (composite_entity_pk((1, "bob")), {"grade": 2}, {"grade": 6}),
        ]
        # autoaudit.history() finds them under the same key (newest first).
        assert [log.action for log in autoaudit.history(created)] == ["update", "create"]
        assert [log.action for log in autoaudit.history(loaded)] == ["update", "create"]


@TRACKING
def test_composite_pk_save_with_an_expression(track: Track, tracked: bool) -> None:
    enrollment = Enrollment.objects.create(course=2, student="cy", grade=3)
    if tracked:
        track(Enrollment)
    enrollment.grade = F("grade") + 1
    enrollment.save()
    assert _grades() == [(2, "cy", 4)]
    if tracked:
        [log] = _enrollment_logs("update")
        assert (log.entity_pk, log.old_values, log.new_values) == (
            composite_entity_pk((2, "cy")),
            {"grade": 3},
            {"grade": 4},
        )


@TRACKING
def test_composite_pk_queryset_update(track: Track, tracked: bool) -> None:
    Enrollment.objects.create(course=1, student="ann", grade=1)
    Enrollment.objects.create(course=1, student="bob", grade=2)
    Enrollment.objects.create(course=2, student="ann", grade=3)
    if tracked:
        track(Enrollment)
    assert Enrollment.objects.filter(course=1).update(grade=F("grade") + 10) == 2
    assert _grades() == [(1, "ann", 11), (1, "bob", 12), (2, "ann", 3)]
    if tracked:
        logs = _enrollment_logs("update")
        assert [(log.entity_pk, log.old_values, log.new_values) for log in logs] == [
            (composite_entity_pk((1, "ann")), {"grade": 1}, {"grade": 11}),
            (composite_entity_pk((1, "bob")), {"grade": 2}, {"grade": 12}),
        ]


@TRACKING
def test_composite_pk_bulk_create_and_bulk_update(track: Track, tracked: bool) -> None:
    if tracked:
        track(Enrollment)
    rows = Enrollment.objects.bulk_create(
        [Enrollment(course=3, student="dee", grade=1), Enrollment(course=3, student="eve", grade=2)]
    )
    for row in rows:
        row.grade *= 10
    assert Enrollment.objects.bulk_update(rows, ["grade"]) == 2
    assert _grades() == [(3, "dee", 10), (3, "eve", 20)]
    if tracked:
        assert [log.entity_pk for log in _enrollment_logs("create")] == [
            composite_entity_pk((3, "dee")),
            composite_entity_pk((3, "eve")),
        ]
        logs = _enrollment_logs("update")
        assert [(log.entity_pk, log.old_values, log.new_values) for log in logs] == [
            (composite_entity_pk((3, "dee")), {"grade": 1}, {"grade": 10}),
            (composite_entity_pk((3, "eve")), {"grade": 2}, {"grade": 20}),
        ]


@TRACKING
def test_composite_pk_delete(track: Track, tracked: bool) -> None:
    first = Enrollment.objects.create(course=4, student="fay", grade=1)
    Enrollment.objects.create(course=4, student="gus", grade=2)
    if tracked:
        track(Enrollment)
    first.delete()
    assert Enrollment.objects.filter(course=4).delete() == (1, {"testapp.Enrollment": 1})
    assert _grades() == []
    if tracked:
        logs = _enrollment_logs("delete")
        # The parts of the key are the key (in entity_pk), not tracked values,
        # as a single-field primary key is not.
        assert [(log.entity_pk, log.old_values) for log in logs] == [
            (composite_entity_pk((4, "fay")), {"grade": 1}),
            (composite_entity_pk((4, "gus")), {"grade": 2}),
        ]


# -- cause 8: a primary key whose str() raises ---------------------------------------
def test_the_ticket_number_str_raises() -> None:
    with pytest.raises(TypeError, match="__str__ returned non-string"):
        str(TicketNumber(7))


@TRACKING
def test_pk_whose_str_raises(track: Track, tracked: bool) -> None:
    if tracked:
        track(Ticket)
    # The django-stubs plugin types a BigIntegerField subclass as int; this
    # one's values are TicketNumber objects.
    seven: Any = TicketNumber(7)
    eight: Any = TicketNumber(8)
    ticket = Ticket.objects.create(number=seven, title="first")
    other = Ticket(number=eight, title="second")
    other.save()
    ticket.title = "renamed"
    ticket.save()
    assert Ticket.objects.filter(number=eight).update(title="bulk") == 1
    assert list(Ticket.objects.order_by("number").values_list("title", flat=True)) == [
        "renamed",
        "bulk",
    ]
    if tracked:
        # Whatever entity_pk such a key gets, history() finds its logs.
        assert [log.action for log in autoaudit.history(ticket)] == ["update", "create"]
        assert [log.action for log in autoaudit.history(other)] == ["update", "create"]
    ticket.delete()
    assert list(Ticket.objects.values_list("number", flat=True)) == [TicketNumber(8)]
    logs = ActivityLog.objects.filter(computed_entity="testapp.Ticket")
    if tracked:
        assert list(logs.order_by("id").values_list("action", flat=True)) == [
            "create",
            "create",
            "update",
            "update",
            "delete",
        ]
        assert all(log.entity_name for log in logs)
    else:
        assert not logs.exists()


# -- cause 11: m2m through models whose foreign keys use to_field ---------------------
def _setup_codes() -> tuple[Holder, Holder, Code, Code]:
    # The to_field values look nothing like primary keys, so a mix-up shows.
    first, second = Holder.objects.create(ref="H-one"), Holder.objects.create(ref="H-two")
    red, blue = Code.objects.create(code="C-red"), Code.objects.create(code="C-blue")
    HolderCode.objects.create(holder=first, code=red)
    return first, second, red, blue


def _links() -> list[tuple[str, str]]:
    return sorted(HolderCode.objects.values_list("holder__ref", "code__code"))


def _m2m_logs() -> list[tuple[str | None, Any, Any, Any]]:
    """(holder pk, old, new, changed_fields) of each m2m log, in order."""
    return list(
        ActivityLog.objects.filter(computed_entity="testapp.Holder", action="update")
        .order_by("id")
        .values_list("entity_pk", "old_values", "new_values", "changed_fields")
    )


@TRACKING
def test_to_field_m2m_forward_add_and_remove(track: Track, tracked: bool) -> None:
    first, _second, red, blue = _setup_codes()
    if tracked:
        track(Holder, m2m_fields=["codes"])
    first.codes.add(blue)
    assert _links() == [("H-one", "C-blue"), ("H-one", "C-red")]
    first.codes.remove(red)
    assert _links() == [("H-one", "C-blue")]
    if tracked:
        # The contract: the related objects' primary keys, before and after, sorted.
        assert _m2m_logs() == [
            (str(first.pk), {"codes": [red.pk]}, {"codes": sorted([red.pk, blue.pk])}, ["codes"]),
            (str(first.pk), {"codes": sorted([red.pk, blue.pk])}, {"codes": [blue.pk]}, ["codes"]),
        ]
    else:
        assert _m2m_logs() == []


@TRACKING
def test_to_field_m2m_forward_set_and_clear(track: Track, tracked: bool) -> None:
    first, _second, red, blue = _setup_codes()
    if tracked:
        track(Holder, m2m_fields=["codes"])
    first.codes.set([blue])
    assert _links() == [("H-one", "C-blue")]
    first.codes.clear()
    assert _links() == []
    if tracked:
        assert _m2m_logs() == [
            (str(first.pk), {"codes": [red.pk]}, {"codes": []}, ["codes"]),  # set: remove red
            (str(first.pk), {"codes": []}, {"codes": [blue.pk]}, ["codes"]),  # set: add blue
            (str(first.pk), {"codes": [blue.pk]}, {"codes": []}, ["codes"]),  # clear
        ]


@TRACKING
def test_to_field_m2m_reverse_add_and_remove(track: Track, tracked: bool) -> None:
    first, second, red, _blue = _setup_codes()
    if tracked:
        track(Holder, m2m_fields=["codes"])
    red.holders.add(second)
    assert _links() == [("H-one", "C-red"), ("H-two", "C-red")]
    red.holders.remove(first)
    assert _links() == [("H-two", "C-red")]
    if tracked:
        assert _m2m_logs() == [
            (str(second.pk), {"codes": []}, {"codes": [red.pk]}, ["codes"]),
            (str(first.pk), {"codes": [red.pk]}, {"codes": []}, ["codes"]),
        ]


@TRACKING
def test_to_field_m2m_reverse_clear(track: Track, tracked: bool) -> None:
    first, second, red, blue = _setup_codes()
    HolderCode.objects.create(holder=second, code=red)
    HolderCode.objects.create(holder=second, code=blue)
    if tracked:
        track(Holder, m2m_fields=["codes"])
    red.holders.clear()
    assert _links() == [("H-two", "C-blue")]
    if tracked:
        assert sorted(_m2m_logs()) == sorted(
            [
                (str(first.pk), {"codes": [red.pk]}, {"codes": []}, ["codes"]),
                (
                    str(second.pk),
                    {"codes": sorted([red.pk, blue.pk])},
                    {"codes": [blue.pk]},
                    ["codes"],
                ),
            ]
        )
