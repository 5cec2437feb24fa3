"""One model per edge case the suite needs.

Nothing here is registered at import time except ``DecoratedNote`` (which
proves the decorator works while models load); tests register what they
need through the ``track`` fixture so each test starts from a clean registry.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
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


class Pizzeria(Restaurant):
    """A grandchild: ``Pizzeria`` -> ``Restaurant`` -> ``Place``."""

    oven = models.CharField(max_length=50, blank=True, default="")
    # deleting a category cascades to its pizzerias, and from them to their parents' rows
    supplier = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)


class Kiosk(Place):
    """A multi-table child with a primary key of its own: its key is not
    its ``Place``'s."""

    number = models.AutoField(primary_key=True)
    place = models.OneToOneField(
        Place, parent_link=True, on_delete=models.CASCADE, related_name="kiosk"
    )
    stall = models.CharField(max_length=50, blank=True, default="")


class Leaky(Account):
    """``__str__`` prints a masked field."""

    class Meta:
        proxy = True

    def __str__(self) -> str:
        return f"{self.username} ({self.api_key})"


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


# -- compatibility edge cases (tests/test_compat_*.py) ---------------------------
class Enrollment(models.Model):
    """A composite primary key (Django 5.2+): ``pk`` is ``(course, student)``."""

    pk = models.CompositePrimaryKey("course", "student")
    course = models.IntegerField()
    student = models.CharField(max_length=50)
    grade = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.student} in {self.course}"


class Shelf(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    """Ordered across a nullable foreign key (a LEFT OUTER JOIN in every
    query that keeps the default ordering)."""

    title = models.CharField(max_length=100)
    copies = models.IntegerField(default=0)
    shelf = models.ForeignKey(Shelf, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["shelf__name", "title"]

    def __str__(self) -> str:
        return self.title


class BasketManager(models.Manager["Basket"]):
    def get_queryset(self) -> models.QuerySet[Basket]:
        return super().get_queryset().annotate(item_count=models.Count("items"))


class Basket(models.Model):
    """Its base manager annotates an aggregate (a GROUP BY in every query)."""

    label = models.CharField(max_length=50)
    total = models.IntegerField(default=0)

    objects = BasketManager()

    class Meta:
        base_manager_name = "objects"

    def __str__(self) -> str:
        return self.label


class BasketItem(models.Model):
    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=50)


class Code(models.Model):
    """The target of an m2m whose through model points at ``code``, not the pk."""

    code = models.CharField(max_length=20, unique=True)

    def __str__(self) -> str:
        return self.code


class Holder(models.Model):
    ref = models.CharField(max_length=20, unique=True)
    codes = models.ManyToManyField(Code, through="HolderCode", related_name="holders")

    def __str__(self) -> str:
        return self.ref


class HolderCode(models.Model):
    """A through model whose foreign keys use ``to_field`` (unique non-pk fields)."""

    holder = models.ForeignKey(Holder, to_field="ref", on_delete=models.CASCADE)
    code = models.ForeignKey(Code, to_field="code", on_delete=models.CASCADE)


class TicketNumber:
    """A ticket number as a value object. Its ``__str__`` returns the int
    itself (an easy slip), so ``str(number)`` raises ``TypeError``; Django
    never calls it when saving or deleting."""

    def __init__(self, number: int) -> None:
        self.number = int(number)

    def __str__(self) -> str:
        return self.number  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"TicketNumber({self.number})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TicketNumber) and other.number == self.number

    def __hash__(self) -> int:
        return hash(self.number)


if TYPE_CHECKING:
    _BigIntegerField = models.BigIntegerField[Any, Any]  # sets and gets TicketNumber
else:
    _BigIntegerField = models.BigIntegerField


class TicketNumberField(_BigIntegerField):
    """Stores a :class:`TicketNumber` as a BIGINT."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else TicketNumber(value)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, TicketNumber):
            return value
        return TicketNumber(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, TicketNumber):
            value = value.number
        return super().get_prep_value(value)


class Ticket(models.Model):
    """A primary key whose ``str()`` raises."""

    number = TicketNumberField(primary_key=True)
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class Seat(models.Model):
    """A unique number: ``order_by("-number").update(number=F("number") + 1)``
    succeeds on MySQL/MariaDB only because of the UPDATE's ORDER BY."""

    number = models.IntegerField(unique=True)


class MemberManager(BaseUserManager["Member"]):
    pass


class Member(AbstractBaseUser):
    """A custom user model for ``override_settings(AUTH_USER_MODEL=...)``."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=100, blank=True, default="")

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    objects = MemberManager()

    def get_full_name(self) -> str:
        return self.full_name

    def __str__(self) -> str:
        return self.email


# -- secrets under every common name (tests/test_canaries.py, issue 13) --------
#: The fields of :class:`Vault` that the default masks must catch by name.
VAULT_SECRETS = (
    "pwd",
    "passcode",
    "passphrase",
    "otp",
    "pin",
    "ssn",
    "iban",
    "session_key",
    "privateKey",
    "accessKey",
    "creditCard",
    "authorization",
)


class Vault(models.Model):
    """A secret under each common name, two look-alikes that are not secret
    (``spinner``, ``shipping``), a JSON field, and an ``__str__`` that prints
    every value it holds (the worst case for names and descriptions)."""

    label = models.CharField(max_length=100)
    memo = models.CharField(max_length=100, blank=True, default="")
    spinner = models.CharField(max_length=100, blank=True, default="")
    shipping = models.CharField(max_length=100, blank=True, default="")
    pwd = models.CharField(max_length=100, blank=True, default="")
    passcode = models.CharField(max_length=100, blank=True, default="")
    passphrase = models.CharField(max_length=100, blank=True, default="")
    otp = models.CharField(max_length=100, blank=True, default="")
    pin = models.CharField(max_length=100, blank=True, default="")
    ssn = models.CharField(max_length=100, blank=True, default="")
    iban = models.CharField(max_length=100, blank=True, default="")
    session_key = models.CharField(max_length=100, blank=True, default="")
    privateKey = models.CharField(max_length=100, blank=True, default="")
    accessKey = models.CharField(max_length=100, blank=True, default="")
    creditCard = models.CharField(max_length=100, blank=True, default="")
    authorization = models.CharField(max_length=100, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="vaults")

    def __str__(self) -> str:
        values = [getattr(self, name) for name in ("label", "memo", *VAULT_SECRETS)]
        return " ".join(str(value) for value in values) + f" {self.data}"


class HexLabel(models.Model):
    """An ``__str__`` that shows its key in hex: its create log cannot take
    the key from the ``INSERT`` in SQL, so it is written after it."""

    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return f"label 0x{self.pk:x}" if self.pk is not None else "new label"


class Stamped(models.Model):
    """A tracked column the database fills in (``db_default``)."""

    name = models.CharField(max_length=50)
    serial = models.IntegerField(db_default=41)

    def __str__(self) -> str:
        return self.name


# -- history (tests/test_history_*.py, issue 16) ------------------------------
class Specimen(models.Model):
    """The field types ``as_of`` converts back that ``Product`` lacks: a UUID
    that is not the key, a float, a time, a duration, a foreign key to a
    unique non-key field (``to_field``), and links of its own."""

    label = models.CharField(max_length=50)
    ref = models.UUIDField(null=True, blank=True)
    weight = models.FloatField(default=0)
    taken_at = models.TimeField(null=True, blank=True)
    span = models.DurationField(null=True, blank=True)
    code = models.ForeignKey(Code, to_field="code", null=True, blank=True, on_delete=models.PROTECT)
    tags = models.ManyToManyField(Tag, blank=True, related_name="specimens")

    def __str__(self) -> str:
        return self.label
