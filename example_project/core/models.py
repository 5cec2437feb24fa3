"""The catalogue and the contact form, as in the design document.

Both models opt in to the activity log with the ``autoaudit.register``
decorator; nothing else in the shop's code deals with logging.
"""

import autoaudit
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@autoaudit.register()
class Product(models.Model):
    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=50, unique=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    stock = models.IntegerField(_("stock"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)
    # auto_now fields are not tracked: they change on every save.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("core:product_detail", args=[self.pk])


# Only the visitor's input is tracked, and the guest who sent it is named in
# the log by the message's own email, phone and name.
@autoaudit.register(
    include_fields=["name", "email", "phone", "message"],
    guest_fields={"email": "email", "phone": "phone", "name": "name"},
)
class ContactMessage(models.Model):
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    message = models.TextField(_("message"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contact message")
        verbose_name_plural = _("contact messages")

    def __str__(self) -> str:
        return gettext("Message from %(name)s") % {"name": self.name}
