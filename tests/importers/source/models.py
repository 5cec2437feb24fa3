"""One model per source package, each recording its history the package's way."""

from __future__ import annotations

from typing import ClassVar, Self

import auditlog.registry
import reversion
from django.db import models
from simple_history.models import HistoricalRecords

# The managers are declared: django-stubs types these models with the main
# test settings, where their app is not installed.


class Category(models.Model):
    name = models.CharField(max_length=50)
    objects: ClassVar[models.Manager[Self]] = models.Manager()

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    name = models.CharField(max_length=50)
    objects: ClassVar[models.Manager[Self]] = models.Manager()

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    """What each source's model holds: text, a decimal, a date, a boolean, a
    foreign key, JSON, a secret (masked by default: ``api_key``) and M2M."""

    title = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = models.DateField(null=True, blank=True)
    in_stock = models.BooleanField(default=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    metadata = models.JSONField(default=dict, blank=True)
    api_key = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects: ClassVar[models.Manager[Self]] = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class AuditlogBook(Book):
    tags = models.ManyToManyField(Label, blank=True, related_name="+")


class HistoryBook(Book):
    history = HistoricalRecords()


@reversion.register(follow=())
class ReversionBook(Book):
    tags = models.ManyToManyField(Label, blank=True, related_name="+")


auditlog.registry.auditlog.register(AuditlogBook, m2m_fields={"tags"})
auditlog.registry.auditlog.register(Category)
