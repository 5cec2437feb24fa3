"""Catalogue pages, the contact form and the staff product editor.

No view writes to the activity log for a change: saving a registered model is
enough. The product page shows the one manual call, for a "view" activity,
which no model save could record.
"""

import autoaudit
from autoaudit.access import can_view_all, visible_logs
from autoaudit.models import ActivityLog
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.forms import ContactForm, ProductForm
from core.models import Product


def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(is_active=True)
    return render(request, "core/product_list.html", {"products": products})


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    products = Product.objects.all()
    if not request.user.is_staff:
        products = products.filter(is_active=True)
    product = get_object_or_404(products, pk=pk)
    # Views change nothing, so they are logged by hand (the design
    # document's "Melihat detail produk" example).
    autoaudit.log_activity(
        request,
        autoaudit.ActionType.VIEW,
        "core.Product",
        entity_id=product.pk,
        entity_name=product.name,
        description=_("Viewed product details"),
        source="product_page",
    )
    context = {"product": product}
    if request.user.is_staff:
        # The documented access rules (docs/ui.md, "Who sees what"): everyone's
        # history with autoaudit.view_activitylog, otherwise only one's own.
        history = ActivityLog.objects.for_instance(product).select_related("user")
        context["history"] = visible_logs(request.user, history)[:10]
        context["history_is_everyones"] = can_view_all(request.user)
    return render(request, "core/product_detail.html", context)


@login_required
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        form.save()  # logged as an update by the signed-in staff member
        messages.success(request, _("The product was saved."))
        return redirect(product)
    return render(request, "core/product_form.html", {"form": form, "product": product})


def contact(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()  # logged with the visitor as a guest actor (guest_fields)
        messages.success(request, _("Thank you, we will get back to you soon."))
        return redirect("core:contact")
    return render(request, "core/contact.html", {"form": form})
