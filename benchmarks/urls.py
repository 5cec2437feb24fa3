"""URLs of the benchmark project: the ``request`` op's view, and the timeline
and admin that the scale phase reads (``benchmarks/run.py``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from benchmarks.benchapp import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/request/<str:label>/", views.edit_items, name="bench_request"),
    path("activity/", include("autoaudit.urls")),
    path("admin/", admin.site.urls),
]
