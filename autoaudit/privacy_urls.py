"""URLs of the guest opt-out views; include them where guests can reach them.

.. code-block:: python

    path("privacy/", include("autoaudit.privacy_urls")),

gives ``privacy/`` (status page), ``privacy/opt-out/`` and ``privacy/opt-in/``,
named ``autoaudit_privacy:status``, ``autoaudit_privacy:opt_out`` and
``autoaudit_privacy:opt_in``.
"""

from __future__ import annotations

from django.urls import path

from autoaudit.web.privacy import opt_in_view, opt_out_view, privacy_status_view

app_name = "autoaudit_privacy"

urlpatterns = [
    path("", privacy_status_view, name="status"),
    path("opt-out/", opt_out_view, name="opt_out"),
    path("opt-in/", opt_in_view, name="opt_in"),
]
