"""``as_of`` against randomized histories.

A seeded random sequence of creates (``save()`` and ``bulk_create()``),
updates (``save()``, ``QuerySet.update()``, ``bulk_update()``), many-to-many
changes (``add``/``remove``/``set``/``clear``, from both sides, and the
links a deleted tag takes with it), deletes (``Model.delete()`` and
``QuerySet.delete()``) and restores, on three models. After each step the
true state of every object is read from the database, keyed by the moment
of the newest log (the logs' own ``created_at``: a step that writes no log
leaves the moment, and must leave the state, as it was). Then ``as_of`` at
every moment, and halfway between two moments, must give exactly the state
recorded for it; before the first log nothing existed.
"""

from __future__ import annotations

import datetime
import decimal
import os
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import models
from django.db.models import F, Max
from django.db.models.fields.files import FieldFile

import autoaudit
from autoaudit.models import ActivityLog
from autoaudit.tracking.snapshot import python_value
from tests.testapp.models import Category, Code, Product, Specimen, Tag, UUIDItem
from tests.typing_support import Track

pytestmark = pytest.mark.django_db

Key = tuple[type[models.Model], Any]
State = dict[Key, dict[str, Any] | None]


def _seeds(text: str) -> tuple[int, ...]:
    """``"7-8"`` -> ``(7, 8)``; ``"3"`` -> ``(3,)``."""
    first, _dash, last = text.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


#: Fields no log holds (``auto_now``/``auto_now_add``), by model.
UNTRACKED: dict[type[models.Model], frozenset[str]] = {
    Product: frozenset({"created_at", "updated_at"}),
    Specimen: frozenset(),
    UUIDItem: frozenset(),
}
MODELS = tuple(UNTRACKED)
#: The size of each history; more seeds: AUTOAUDIT_HISTORY_SEEDS="1-50".
STEPS = 60
SEEDS = _seeds(os.environ.get("AUTOAUDIT_HISTORY_SEEDS", "7-8"))


def _truth(model: type[models.Model], obj: models.Model) -> dict[str, Any]:
    """What the database holds for one object (the fields a log can know)."""
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.name not in UNTRACKED[model]:
            value = python_value(f, getattr(obj, f.attname))
            values[f.name] = value.name if isinstance(value, FieldFile) else value
    for m2m in model._meta.many_to_many:
        values[m2m.name] = sorted(related.pk for related in getattr(obj, m2m.name).all())
    return values


def _rows(model: type[models.Model], pks: list[Any]) -> dict[Any, models.Model]:
    """The objects of ``model`` among ``pks`` that exist, links prefetched (two queries)."""
    rows = model._default_manager.filter(pk__in=pks)
    links = [m2m.name for m2m in model._meta.many_to_many]
    # In one order on every backend (MariaDB sorts its UUID type its own way).
    found = sorted(rows.prefetch_related(*links), key=lambda obj: str(obj.pk))
    return {obj.pk: obj for obj in found}


def _logs(model: type[models.Model], pk: Any) -> list[tuple[Any, ...]]:
    """The logs of one object, oldest first (shown when a comparison fails)."""
    rows = ActivityLog.objects.filter(computed_entity=model._meta.label, entity_pk=str(pk))
    fields = ("id", "action", "created_at", "changed_fields", "extra_data")
    return list(rows.order_by("created_at", "id").values_list(*fields))


class History:
    """The random steps, and the states they left, by moment."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.known: list[Key] = []  # every object ever created
        self.states: dict[datetime.datetime, State] = {}
        self.categories = [Category.objects.create(name=f"c{n}") for n in range(3)]
        self.codes = [Code.objects.create(code=f"code-{n}") for n in range(3)]
        self.tags = [Tag.objects.create(name=f"t{n}") for n in range(5)]
        self.counts: dict[str, int] = {}

    # -- random values -------------------------------------------------------
    def _text(self) -> str:
        return self.rng.choice(["", "a", "b é", "long " * 5, "x\ny"]) + str(self.rng.randint(0, 9))

    def _moment(self) -> datetime.datetime:
        return datetime.datetime(
            2024,
            self.rng.randint(1, 12),
            self.rng.randint(1, 28),
            self.rng.randint(0, 23),
            self.rng.randint(0, 59),
            self.rng.randint(0, 59),
            self.rng.randint(0, 999_999),
            tzinfo=datetime.UTC,
        )

    def values(self, model: type[models.Model]) -> dict[str, Any]:
        """Random values for some of a model's fields."""
        rng = self.rng
        if model is Product:
            every: dict[str, Callable[[], Any]] = {
                "name": self._text,
                "price": lambda: decimal.Decimal(rng.randint(0, 10**6)) / 100,
                "stock": lambda: rng.randint(-5, 500),
                "is_active": lambda: rng.random() < 0.5,
                "metadata": lambda: rng.choice(
                    [{}, {"specs": {"ram": f"{rng.randint(1, 64)}GB"}}, {"list": [1, "a", None]}]
                ),
                "description": self._text,
                "category": lambda: rng.choice([None, *self.categories]),
                "released_on": lambda: rng.choice([None, self._moment().date()]),
                "published_at": lambda: rng.choice([None, self._moment()]),
            }
        elif model is Specimen:
            every = {
                "label": self._text,
                "ref": lambda: rng.choice([None, uuid.UUID(int=rng.getrandbits(128), version=4)]),
                "weight": lambda: rng.choice([0.0, rng.uniform(-1e6, 1e6), 1.5]),
                "taken_at": lambda: rng.choice([None, self._moment().time()]),
                "span": lambda: rng.choice(
                    [None, datetime.timedelta(seconds=rng.randint(0, 10**6), microseconds=7)]
                ),
                "code": lambda: rng.choice([None, *self.codes]),
            }
        else:
            every = {"name": self._text}
        names = rng.sample(sorted(every), rng.randint(1, len(every)))
        return {name: every[name]() for name in names}

    def key(self, model: type[models.Model]) -> dict[str, Any]:
        """A UUID key drawn from the seed (the default, ``uuid4``, is not)."""
        if model is UUIDItem:
            return {"id": uuid.UUID(int=self.rng.getrandbits(128), version=4)}
        return {}

    # -- the steps ---------------------------------------------------------------
    def existing(self) -> dict[Key, models.Model]:
        """Every known object that exists now, by key."""
        found: dict[Key, models.Model] = {}
        for model in MODELS:
            pks = [pk for known_model, pk in self.known if known_model is model]
            found.update(((model, pk), obj) for pk, obj in _rows(model, pks).items())
        return found

    def step(self) -> None:
        rng = self.rng
        model = rng.choice(MODELS)
        existing = self.existing()
        objs = [obj for (m, _pk), obj in existing.items() if m is model]
        deleted = [key for key in self.known if key not in existing]
        kinds = ["create", "bulk_create"]
        if objs:
            kinds += ["save", "save", "update", "bulk_update", "delete", "qs_delete"]
            if model is not UUIDItem:
                kinds += ["m2m", "m2m", "m2m_reverse"]
        if deleted:
            kinds.append("restore")
        if len(self.tags) > 2:
            kinds.append("tag_delete")
        kind = rng.choice(kinds)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "create":
            obj = model._default_manager.create(**self.values(model), **self.key(model))
            self.known.append((model, obj.pk))
        elif kind == "bulk_create":
            new = [model(**self.values(model), **self.key(model)) for _ in range(rng.randint(1, 3))]
            for created in model._default_manager.bulk_create(new):
                assert created.pk is not None
                self.known.append((model, created.pk))
        elif kind == "save":
            obj = rng.choice(objs)
            for name, value in self.values(model).items():
                setattr(obj, name, value)
            obj.save()
        elif kind == "update":
            chosen = rng.sample(objs, rng.randint(1, len(objs)))
            queryset = model._default_manager.filter(pk__in=[o.pk for o in chosen])
            if model is Product and rng.random() < 0.3:
                queryset.update(stock=F("stock") + 1)
            else:
                queryset.update(**self.values(model))
        elif kind == "bulk_update":
            chosen = rng.sample(objs, rng.randint(1, len(objs)))
            names: set[str] = set()
            for obj in chosen:
                for name, value in self.values(model).items():
                    setattr(obj, name, value)
                    names.add(name)
            model._default_manager.bulk_update(chosen, sorted(names))
        elif kind == "delete":
            rng.choice(objs).delete()
        elif kind == "qs_delete":
            chosen = rng.sample(objs, rng.randint(1, min(2, len(objs))))
            model._default_manager.filter(pk__in=[o.pk for o in chosen]).delete()
        elif kind == "m2m":
            obj = rng.choice(objs)
            manager: Any = getattr(obj, "tags")  # noqa: B009
            tags = rng.sample(self.tags, rng.randint(0, len(self.tags)))
            how = rng.choice(["add", "remove", "set", "clear"])
            if how == "clear":
                manager.clear()
            elif how == "set":
                manager.set(tags)
            else:
                getattr(manager, how)(*tags)
        elif kind == "m2m_reverse":
            tag = rng.choice(self.tags)
            related: Any = getattr(tag, "products" if model is Product else "specimens")
            chosen = rng.sample(objs, rng.randint(1, len(objs)))
            getattr(related, rng.choice(["add", "remove"]))(*chosen)
        elif kind == "tag_delete":
            tag = self.tags.pop(rng.randrange(len(self.tags)))
            tag.delete()
        elif kind == "restore":
            restore_model, pk = rng.choice(deleted)
            autoaudit.restore(restore_model, pk)

    def record(self) -> None:
        """The state of every object, at the moment of the newest log."""
        moment = ActivityLog.objects.aggregate(newest=Max("created_at"))["newest"]
        if moment is None:
            assert not self.known  # nothing was created yet (a tag deleted first)
            return
        existing = self.existing()
        self.states[moment] = {
            key: _truth(key[0], existing[key]) if key in existing else None for key in self.known
        }


@pytest.mark.parametrize("seed", SEEDS)
def test_as_of_matches_every_recorded_state(track: Track, seed: int) -> None:
    track(Product, m2m_fields=["tags"])
    track(Specimen, m2m_fields=["tags"])
    track(UUIDItem)
    history = History(seed)
    for _ in range(STEPS):
        history.step()
        history.record()
    moments = sorted(history.states)
    assert len(moments) > STEPS // 2  # most steps wrote a log
    # Halfway between a moment and the next log (a step may write several
    # logs at different times: a restore's create, then its links).
    written = sorted(set(ActivityLog.objects.values_list("created_at", flat=True)))
    checks = []
    for moment in moments:
        checks.append((moment, history.states[moment]))
        later = [at for at in written if at > moment][:1]
        if later and later[0] - moment >= datetime.timedelta(microseconds=2):
            checks.append((moment + (later[0] - moment) / 2, history.states[moment]))
    first = moments[0] - datetime.timedelta(microseconds=1)
    checks.append((first, dict.fromkeys(history.known)))

    compared = 0
    for when, state in checks:
        for model, pk in history.known:
            truth = state.get((model, pk))  # created later: not there yet
            version = autoaudit.as_of(model, pk, when)
            if truth is None:
                assert version is None, (model, pk, when, _logs(model, pk))
                continue
            assert version is not None, (model, pk, when)
            assert version.missing == UNTRACKED[model], (model, pk, when)
            assert version.values == truth, (model, pk, when, history.counts)
            compared += 1
    assert compared > STEPS
    # What was exercised (shown with -s; every kind shows up across the seeds).
    print(f"seed {seed}: {len(moments)} moments, {compared} versions compared, {history.counts}")
