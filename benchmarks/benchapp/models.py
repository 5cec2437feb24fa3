"""One model shape, four variants: untracked, autoaudit, auditlog, simple-history.

Each variant is a concrete subclass of the same abstract model, so the tables
have the same columns and indexes; only the tracking differs. The fifth,
django-pghistory, subclasses ``Item`` too, in ``benchmarks/pghbench``: its
triggers exist on PostgreSQL alone, so that app is installed only there.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.db import models
from simple_history.models import HistoricalRecords

import autoaudit


class Owner(models.Model):
    """The small table every item points to (the FK column)."""

    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=64, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.IntegerField(default=0)
    active = models.BooleanField(default=True)
    metadata = models.JSONField(default=dict)
    notes = models.TextField(blank=True, default="")
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class PlainItem(Item):
    """Untracked: the baseline every ratio is computed against."""


class AAItem(Item):
    """Tracked by autoaudit (registered below, default options)."""


class ALItem(Item):
    """Tracked by django-auditlog (registered below, default options)."""


class SHItem(Item):
    """Tracked by django-simple-history."""

    history = HistoricalRecords()


class BenchState(models.Model):
    """Key/value facts about this bench database (prefill size, target pks)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()

    def __str__(self) -> str:
        return self.key


autoaudit.register(AAItem)
auditlog.register(ALItem)
