"""``view`` / ``download`` / ``upload`` logging: decorators and the CBV mixin."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

import autoaudit
from autoaudit.events import log_event
from autoaudit.models import ActivityLog
from autoaudit.values.descriptions import describe
from autoaudit.web.decorators import default_methods, log_view
from tests.asgi_support import run_async
from tests.testapp.models import ContactMessage, Product

pytestmark = pytest.mark.django_db

MOBILE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def product() -> Product:
    return Product.objects.create(name="Laptop ASUS ROG")


def _views() -> list[ActivityLog]:
    return list(ActivityLog.objects.exclude(action__in=["login", "logout"]))


def test_guest_view_with_decorator(product: Product) -> None:
    client = Client(HTTP_USER_AGENT=MOBILE, REMOTE_ADDR="203.0.113.100")
    assert client.get(f"/products/{product.pk}/").status_code == 200
    (log,) = _views()
    assert (log.action, log.entity, log.computed_entity) == ("view", "product", "testapp.Product")
    assert (log.entity_id, log.entity_pk, log.entity_name) == (
        product.pk,
        str(product.pk),
        "Laptop ASUS ROG",
    )
    assert log.description == 'Viewed product "Laptop ASUS ROG"'
    assert (log.actor_type, log.actor_name, log.actor_identifier) == (
        "guest",
        "Anonymous Guest",
        "203.0.113.100",
    )
    assert log.actor_metadata == {
        "device": "mobile",
        "browser": "Chrome Mobile 120",
        "os": "Android 14",
    }
    assert (log.old_values, log.new_values) == (None, None)


def test_user_view_with_decorator(product: Product) -> None:
    user = get_user_model()._default_manager.create_user("v", "v@example.com", "x")
    client = Client()
    client.force_login(user)
    client.get(f"/products/{product.pk}/")
    (log,) = _views()
    assert (log.actor_type, log.user_id) == ("user", user.pk)


def test_failed_views_and_other_methods_are_not_logged(product: Product) -> None:
    client = Client()
    assert client.get("/products/999999/").status_code == 404
    client.post(f"/products/{product.pk}/")
    client.head(f"/products/{product.pk}/")
    assert _views() == []


@override_settings(AUTOAUDIT={"GUEST_TRACKING": False})
def test_views_of_opted_out_guests_are_not_logged(product: Product) -> None:
    Client().get(f"/products/{product.pk}/")
    Client().get(f"/products/{product.pk}/cbv/")
    assert _views() == []


def test_opted_out_setting_does_not_affect_users(product: Product) -> None:
    user = get_user_model()._default_manager.create_user("u", "u@example.com", "x")
    client = Client()
    client.force_login(user)
    with override_settings(AUTOAUDIT={"GUEST_TRACKING": False}):
        client.get(f"/products/{product.pk}/")
    assert len(_views()) == 1


def test_disabled_logs_no_view(product: Product) -> None:
    request = RequestFactory().get("/")
    with autoaudit.disabled():
        assert log_event(request, "view", product) is None
    assert _views() == []


def test_template_response_object_needs_no_lookup(product: Product) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/products/{product.pk}/template/")
    # The view's own SELECT and the log's INSERT; no second SELECT.
    selects = [q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert _views()[0].entity_name == "Laptop ASUS ROG"


@pytest.mark.django_db(transaction=True)
def test_async_view_decorator(product: Product) -> None:
    async def run() -> int:
        response = await AsyncClient().get(f"/products/{product.pk}/async/")
        return response.status_code

    assert run_async(run()) == 200
    (log,) = _views()
    assert (log.action, log.entity_pk) == ("view", str(product.pk))


def test_plain_entity_view() -> None:
    Client().get("/report/")
    (log,) = _views()
    assert (log.entity, log.computed_entity, log.entity_pk, log.description) == (
        "report",
        "report",
        None,
        "Viewed report",
    )


def test_download_decorator_records_the_filename(product: Product) -> None:
    response = Client().get(f"/products/{product.pk}/download/")
    assert isinstance(response, StreamingHttpResponse)
    assert b"".join(response.streaming_content) == b"data"
    (log,) = _views()
    assert (log.action, log.entity_pk) == ("download", str(product.pk))
    assert log.extra_data == {"filename": "manual.pdf"}
    assert log.description == 'Downloaded product "Laptop ASUS ROG"'


def test_upload_decorator_records_the_files() -> None:
    upload = SimpleUploadedFile("../../etc/spec.pdf", b"%PDF", content_type="application/pdf")
    Client().post("/products/upload/", {"file": upload})
    (log,) = _views()
    assert (log.action, log.entity, log.entity_pk) == ("upload", "product", None)
    assert log.entity_name == "spec.pdf"
    assert log.extra_data == {
        "files": [
            {"field": "file", "name": "spec.pdf", "size": 4, "content_type": "application/pdf"}
        ]
    }
    assert log.description == 'Uploaded product "spec.pdf"'


def test_detail_view_mixin(product: Product) -> None:
    client = Client()
    assert client.get(f"/products/{product.pk}/cbv/").status_code == 200
    client.get("/products/999999/cbv/")
    (log,) = _views()
    assert (log.action, log.entity_pk, log.entity_name) == (
        "view",
        str(product.pk),
        "Laptop ASUS ROG",
    )


def test_mixin_download_with_fixed_description(product: Product) -> None:
    Client().get(f"/products/{product.pk}/cbv-download/")
    (log,) = _views()
    assert (log.action, log.description) == ("download", "Fetched the spec sheet")


def test_mixin_upload_on_create_view_logs_the_new_object() -> None:
    client = Client()
    client.get("/contact/new/")  # showing the form is not an upload
    assert _views() == []
    response = client.post(
        "/contact/new/", {"name": "Jane", "email": "j@example.com", "message": "hi"}
    )
    assert response.status_code == 302
    message = ContactMessage.objects.get()
    (log,) = _views()
    assert (log.action, log.computed_entity, log.entity_pk) == (
        "upload",
        "testapp.ContactMessage",
        str(message.pk),
    )
    client.post("/contact/new/", {"name": ""})  # invalid form: 200, no object
    assert len(_views()) == 1


def test_decorator_lookup_by_other_field(product: Product) -> None:
    product.sku = "SKU-1"
    product.save()

    @log_view(Product, url_kwarg="sku", lookup_field="sku")
    def view(request: Any, sku: str) -> Any:
        from django.http import HttpResponse

        return HttpResponse()

    view(RequestFactory().get("/"), sku="SKU-1")
    view(RequestFactory().get("/"), sku="missing")
    logs = sorted(_views(), key=lambda log: log.entity_pk or "")
    assert [log.entity_pk for log in logs] == [None, str(product.pk)]


def test_decorator_with_a_bad_url_value_still_logs(product: Product) -> None:
    @log_view("testapp.Product")
    def view(request: Any, pk: str) -> Any:
        from django.http import HttpResponse

        return HttpResponse()

    view(RequestFactory().get("/"), pk="not-a-number")
    (log,) = _views()
    assert (log.computed_entity, log.entity_pk, log.entity_id) == (
        "testapp.Product",
        "not-a-number",
        None,
    )


def test_defaults_and_descriptions() -> None:
    assert default_methods("view") == ("GET",)
    assert default_methods("upload") == ("POST", "PUT")
    assert default_methods("publish") == ("GET", "POST")
    assert describe("publish", "product", "P") == 'publish product "P"'


def test_view_description_is_translated(product: Product) -> None:
    from django.utils import translation

    with translation.override("id"):
        log = log_event(None, "view", product)
    assert log is not None and log.description
