"""Views the actor, middleware and view-logging tests drive."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import crum
from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import CreateView, DetailView

from autoaudit.actors.request import current_request
from autoaudit.decorators import log_download, log_upload, log_view
from autoaudit.mixins import ActivityLogMixin
from tests.testapp.models import ContactMessage, Product


def _crum_ok(request: HttpRequest) -> bool:
    return crum.get_current_request() is request and current_request() is request


@csrf_exempt
async def async_create_product(request: HttpRequest) -> JsonResponse:
    """Interleaves with other requests, then saves a tracked model."""
    ok = _crum_ok(request)
    await asyncio.sleep(random.uniform(0, 0.01))
    ok = ok and _crum_ok(request)
    ok = ok and await sync_to_async(_crum_ok)(request)
    product = await Product.objects.acreate(name=request.POST["name"])
    await asyncio.sleep(random.uniform(0, 0.005))
    ok = ok and _crum_ok(request)
    return JsonResponse({"crum_ok": ok, "pk": product.pk})


@csrf_exempt
def sync_create_product(request: HttpRequest) -> JsonResponse:
    product = Product.objects.create(name=request.POST.get("name", "sync"))
    return JsonResponse({"crum_ok": _crum_ok(request), "pk": product.pk})


def raising_view(request: HttpRequest) -> HttpResponse:
    raise ValueError("boom")


async def async_raising_view(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    raise ValueError("boom")


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"crum_ok": _crum_ok(request)})


@csrf_exempt
def token_auth_create(request: HttpRequest) -> JsonResponse:
    """Authenticates inside the view, like DRF's token/JWT authentication."""
    username = request.headers.get("X-Token", "")
    request.user = get_user_model()._default_manager.get_by_natural_key(username)
    product = Product.objects.create(name="token-made")
    return JsonResponse({"pk": product.pk})


@csrf_exempt
def contact_form(request: HttpRequest) -> HttpResponse:
    ContactMessage.objects.create(
        name=request.POST.get("name", ""),
        email=request.POST.get("email", ""),
        phone=request.POST.get("phone", ""),
        message=request.POST.get("message", ""),
    )
    return HttpResponse("thanks", status=201)


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("username"),
        password=request.POST.get("password"),
    )
    if user is None:
        return HttpResponse("no", status=401)
    login(request, user)
    return HttpResponse("ok")


@csrf_exempt
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


@log_view(Product)
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    return HttpResponse(product.name)


@log_view(Product)
def product_detail_template(request: HttpRequest, pk: int) -> TemplateResponse:
    product = get_object_or_404(Product, pk=pk)
    return TemplateResponse(request, "testapp/product_detail.html", {"object": product})


@log_view(Product)
async def async_product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = await Product.objects.aget(pk=pk)
    return HttpResponse(product.name)


@log_view("report")
def report(request: HttpRequest) -> HttpResponse:
    return HttpResponse("report")


@log_download(Product)
def product_download(request: HttpRequest, pk: int) -> FileResponse:
    get_object_or_404(Product, pk=pk)
    return FileResponse(iter([b"data"]), filename="manual.pdf", as_attachment=True)


@csrf_exempt
@log_upload(Product)
def product_upload(request: HttpRequest) -> HttpResponse:
    return HttpResponse("stored", status=201)


if TYPE_CHECKING:
    from django.forms import ModelForm

    _ProductDetail = DetailView[Product]
    _ContactCreate = CreateView[ContactMessage, ModelForm[ContactMessage]]
else:
    # The generic views are generic only for type checkers (django-stubs).
    _ProductDetail = DetailView
    _ContactCreate = CreateView


class ProductDetailView(ActivityLogMixin, _ProductDetail):
    model = Product
    template_name = "testapp/product_detail.html"


class ProductDownloadView(ActivityLogMixin, _ProductDetail):
    model = Product
    template_name = "testapp/product_detail.html"
    activity_action = "download"
    activity_description = "Fetched the spec sheet"


class ContactCreateView(ActivityLogMixin, _ContactCreate):
    model = ContactMessage
    fields = ["name", "email", "phone", "message"]
    success_url = "/done/"
    activity_action = "upload"


@csrf_exempt
def plain_post(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted")


@csrf_exempt
def failing_post(request: HttpRequest) -> HttpResponse:
    return HttpResponse("bad", status=400)
