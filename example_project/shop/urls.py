from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("core.urls")),
    path("cart/", include("orders.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

# The activity timeline ships in a later autoaudit release; mount it when the
# installed version has it.
try:
    import autoaudit.urls  # noqa: F401
except ImportError:
    pass
else:
    urlpatterns.append(path("activity/", include("autoaudit.urls")))
