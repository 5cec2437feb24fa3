"""The view of the ``request`` op: one realistic write request.

It runs under ``ATOMIC_REQUESTS`` (``benchmarks/run.py`` turns it on for that
op alone): it loads four objects with one query, changes two fields of each
and ``save()``\\s it, and creates one object, so a tracked model gets five
logs, all committed with the request. The model comes from the URL as
``app_label.Model`` (any model with ``name``, ``sku`` and ``price``; the
bench's items also need their ``owner``), so ``tests/test_benchmarks.py``
runs this very view on the test app's ``Product``.
"""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.http import require_POST

#: variant key (``benchmarks/run.py``) -> the model its requests write
MODELS = {
    "untracked": "benchapp.PlainItem",
    "autoaudit": "benchapp.AAItem",
    "auditlog": "benchapp.ALItem",
    "simple_history": "benchapp.SHItem",
    "pghistory": "pghbench.PGHItem",
}


@require_POST
def edit_items(request: HttpRequest, label: str) -> HttpResponse:
    """POST ``pks`` (comma-separated keys), ``name``, ``sku`` and, optionally,
    ``owner``: raise the price and rename each of those objects, then create
    one; answers how many were updated and the new object's key."""
    if not request.user.is_authenticated:
        return HttpResponseForbidden("log in first")
    model = apps.get_model(label)
    pks = [int(pk) for pk in request.POST["pks"].split(",")]
    name = request.POST["name"]
    updated = 0
    for obj in model._default_manager.filter(pk__in=pks).order_by("pk"):
        obj.price += Decimal("0.50")
        obj.name = f"{name} ({updated + 1})"
        obj.save()
        updated += 1
    values = {"name": name, "sku": request.POST["sku"], "price": Decimal("19.90")}
    if "owner" in request.POST:
        values["owner_id"] = int(request.POST["owner"])
    created = model._default_manager.create(**values)
    return JsonResponse({"updated": updated, "created": created.pk})
