from django.contrib import admin
from django.urls import URLPattern, URLResolver, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
]

# Actors, middleware and view logging (tests/test_middleware.py, test_asgi.py, ...).
from tests.testapp import views  # noqa: E402

urlpatterns += [
    path("actors/async-create/", views.async_create_product),
    path("actors/sync-create/", views.sync_create_product),
    path("actors/raise/", views.raising_view),
    path("actors/async-raise/", views.async_raising_view),
    path("actors/whoami/", views.whoami),
    path("actors/token-create/", views.token_auth_create),
    path("actors/contact/", views.contact_form),
    path("actors/login/", views.login_view),
    # Django's default LOGIN_URL, so the timeline's redirect leads somewhere
    # (tests/test_timeline_login.py covers a project without one).
    path("accounts/login/", views.login_view),
    path("actors/logout/", views.logout_view),
    path("products/<int:pk>/", views.product_detail),
    path("products/<int:pk>/template/", views.product_detail_template),
    path("products/<int:pk>/async/", views.async_product_detail),
    path("products/<int:pk>/cbv/", views.ProductDetailView.as_view()),
    path("products/<int:pk>/download/", views.product_download),
    path("products/<int:pk>/cbv-download/", views.ProductDownloadView.as_view()),
    path("products/upload/", views.product_upload),
    path("contact/new/", views.ContactCreateView.as_view()),
    path("report/", views.report),
    path("forms/post/", views.plain_post),
    path("forms/fail/", views.failing_post),
    path("admin-like/post/", views.plain_post),
]

# The activity timeline (tests/test_timeline*.py, test_browser.py).
from django.urls import include  # noqa: E402

urlpatterns += [path("activity/", include("autoaudit.urls"))]
