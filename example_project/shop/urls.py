from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("core.urls")),
    path("cart/", include("orders.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # The activity timeline (log in to see it) and the guests' opt-out pages.
    path("activity/", include("autoaudit.urls")),
    path("privacy/", include("autoaudit.privacy_urls")),
]
