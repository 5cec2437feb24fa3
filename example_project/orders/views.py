"""The cart, keyed by the visitor's session, and a one-step checkout.

A guest's cart items are logged with a keyed hash of the session key as the
actor's identifier (the key itself is a credential: the item's own
``session_key`` field is masked by default), so the middleware needs a
session to exist: ``add_to_cart`` creates one before saving (autoaudit
itself never creates sessions).
"""

from decimal import Decimal

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.models import Product
from orders.forms import CheckoutForm
from orders.models import CartItem, Order


def _session_key(request: HttpRequest, create: bool = False) -> str | None:
    if request.session.session_key is None and create:
        request.session.save()
    return request.session.session_key


def _open_items(request: HttpRequest) -> list[CartItem]:
    key = _session_key(request)
    if key is None:
        return []
    items = CartItem.objects.filter(session_key=key, order__isnull=True)
    return list(items.select_related("product"))


def cart(request: HttpRequest) -> HttpResponse:
    items = _open_items(request)
    total = sum((item.subtotal for item in items), Decimal("0.00"))
    initial = {"email": request.user.email} if request.user.is_authenticated else {}
    context = {"items": items, "total": total, "form": CheckoutForm(initial=initial)}
    return render(request, "orders/cart.html", context)


@require_POST
def add_to_cart(request: HttpRequest, product_pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_pk, is_active=True)
    key = _session_key(request, create=True)
    item, created = CartItem.objects.get_or_create(session_key=key, product=product, order=None)
    if not created:
        item.quantity += 1
        item.save()  # logged as an update: quantity n → n + 1
    messages.success(request, _("%(product)s was added to your cart.") % {"product": product.name})
    return redirect("orders:cart")


@require_POST
def remove_from_cart(request: HttpRequest, item_pk: int) -> HttpResponse:
    key = _session_key(request)
    item = get_object_or_404(CartItem, pk=item_pk, session_key=key, order=None)
    item.delete()  # logged as a delete
    return redirect("orders:cart")


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    items = _open_items(request)
    form = CheckoutForm(request.POST)
    if not items:
        messages.error(request, _("Your cart is empty."))
        return redirect("orders:cart")
    if not form.is_valid():
        total = sum((item.subtotal for item in items), Decimal("0.00"))
        context = {"items": items, "total": total, "form": form}
        return render(request, "orders/cart.html", context)
    user = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            email=form.cleaned_data["email"],
            total=sum((item.subtotal for item in items), Decimal("0.00")),
        )
        for item in items:
            item.order = order
            item.save(update_fields=["order"])
    messages.success(
        request, _("Thank you! Your order #%(number)s was placed.") % {"number": order.pk}
    )
    return redirect("core:product_list")
