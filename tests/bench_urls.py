"""The test project's URLs plus the benchmark's request view
(``tests/test_benchmarks.py``, with ``@pytest.mark.urls``)."""

from django.urls import URLPattern, URLResolver, path

from benchmarks.benchapp.views import edit_items
from tests.urls import urlpatterns as base

urlpatterns: list[URLPattern | URLResolver] = [
    *base,
    path("bench/request/<str:label>/", edit_items),
]
