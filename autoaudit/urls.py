"""``path("activity/", include("autoaudit.urls"))``.

- ``""``: the timeline (``autoaudit:timeline``);
- ``"<app_label>.<Model>/<pk>/"``: one object's history
  (``autoaudit:object_history``). The key is matched to the last slash, so
  UUIDs and string keys with slashes, spaces or other odd characters work
  (``reverse`` percent-encodes them);
- ``"api/"`` and ``"api/<app_label>.<Model>/<pk>/"``: the same as JSON
  (``autoaudit:api``, ``autoaudit:api_object_history``; see
  :mod:`autoaudit.web.api`).
"""

from __future__ import annotations

from django.urls import path, re_path

from autoaudit.web import api
from autoaudit.web import timeline as views

app_name = "autoaudit"

urlpatterns = [
    path("", views.TimelineView.as_view(), name="timeline"),
    path("api/", api.ActivityApiView.as_view(), name="api"),
    re_path(
        r"^api/(?P<label>[A-Za-z_]\w*\.[A-Za-z_]\w*)/(?P<pk>.+)/$",
        api.ObjectHistoryApiView.as_view(),
        name="api_object_history",
    ),
    re_path(
        r"^(?P<label>[A-Za-z_]\w*\.[A-Za-z_]\w*)/(?P<pk>.+)/$",
        views.ObjectHistoryView.as_view(),
        name="object_history",
    ),
]
