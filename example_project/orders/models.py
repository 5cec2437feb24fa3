"""Orders and the session-keyed cart.

``Order`` opts in with the decorator below; ``CartItem`` is registered from
``settings.AUTOAUDIT["MODELS"]`` instead, the way a third-party model would be.
"""

from decimal import Decimal

import autoaudit
from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


# A guest's email is shown half-hidden in the log ("j***n@example.com").
@autoaudit.register(mask_fields={"email": "partial"})
class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        CANCELLED = "cancelled", _("Cancelled")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("user"),
    )
    email = models.EmailField(_("guest email"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return gettext("Order #%(number)s") % {"number": self.pk}


class CartItem(models.Model):
    session_key = models.CharField(_("session key"), max_length=40, db_index=True)
    product = models.ForeignKey(
        "core.Product",
        on_delete=models.CASCADE,
        related_name="cart_items",
        verbose_name=_("product"),
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    order = models.ForeignKey(
        Order,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="items",
        verbose_name=_("order"),
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = _("cart item")
        verbose_name_plural = _("cart items")

    def __str__(self) -> str:
        return f"{self.quantity} \N{MULTIPLICATION SIGN} {self.product}"

    @property
    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity
