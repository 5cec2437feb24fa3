"""One model per edge case the suite needs.

Nothing here is registered at import time except ``DecoratedNote`` (which
proves the decorator works while models load); tests register what they
need through the ``track`` fixture so each test starts from a clean registry.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import models

import autoaudit


class Category(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField("name", max_length=200)
    sku = models.CharField(max_length=50, unique=True, null=True, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    stock = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    metadata = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True, default="")
    internal_note = models.CharField(max_length=200, blank=True, default="")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")
    attachment = models.FileField(upload_to="attachments/", blank=True)
    released_on = models.DateField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "product"

    def __str__(self) -> str:
        return self.name


class ProductProxy(Product):
    class Meta:
        proxy = True


class UUIDItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class StringKeyItem(models.Model):
    code = models.CharField(max_length=200, primary_key=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A model with credential-like fields (masked out of the box)."""

    username = models.CharField(max_length=100)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    password = models.CharField(max_length=128, blank=True, default="")
    api_key = models.CharField(max_length=64, blank=True, default="")
    secret_token = models.CharField(max_length=64, blank=True, default="")
    card_number = models.CharField(max_length=32, blank=True, default="")
    settings = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.username


class Place(models.Model):
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return self.name


class Restaurant(Place):
    """A multi-table-inherited child of ``Place``."""

    serves_pizza = models.BooleanField(default=False)


class ContactMessage(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    message = models.TextField()

    def __str__(self) -> str:
        return f"Message from {self.name}"


class OddValue:
    """A value no JSON encoder knows."""

    def __init__(self, raw: str) -> None:
        self.raw = raw

    def __str__(self) -> str:
        return f"OddValue({self.raw})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OddValue) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


if TYPE_CHECKING:
    # set with an OddValue (or its text), read back as an OddValue
    _OddFieldBase = models.CharField[OddValue | str | None, OddValue | None]
else:
    # Field is generic only for type checkers (django-stubs).
    _OddFieldBase = models.CharField


class OddField(_OddFieldBase):
    """A custom field whose Python value is an ``OddValue`` object."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else OddValue(value)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, OddValue):
            return value
        return OddValue(value)

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else str(getattr(value, "raw", value))


class Gadget(models.Model):
    """Odd values: a custom object field, binary data and free text."""

    name = models.CharField(max_length=100)
    odd = OddField(max_length=100, null=True, blank=True)
    blob = models.BinaryField(null=True, blank=True)
    body = models.TextField(blank=True, default="")
    when = models.DateTimeField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class BadStr(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        raise RuntimeError("broken __str__")


class LongStr(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return "x" * 300


class Untracked(models.Model):
    """Never registered: the baseline for zero-overhead tests."""

    name = models.CharField(max_length=100)
    stock = models.IntegerField(default=0)


@autoaudit.register(exclude_fields=["internal"])
class DecoratedNote(models.Model):
    """Registered by decorator while models load."""

    title = models.CharField(max_length=100)
    internal = models.CharField(max_length=100, blank=True, default="")

    def __str__(self) -> str:
        return self.title
