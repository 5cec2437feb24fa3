"""What a signed-out visitor of the timeline gets.

The timeline and the JSON endpoint show a user's own activity, so they need
a signed-in user. Django's ``LoginRequiredMixin`` redirects to
``settings.LOGIN_URL`` (default ``/accounts/login/``), which a project made
with ``startproject`` does not have: the visitor would land on a 404 with no
hint why. Here the redirect happens only when the login URL leads to a view
of this site (or to another site, which is not ours to check); otherwise the
answer is a 403 page that says signing in is required. The system check
``autoaudit.W003`` reports the missing login URL at ``manage.py check``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve


def login_url_resolves(url: Any = None, urlconf: str | None = None) -> bool:
    """Whether ``url`` (as ``LOGIN_URL`` takes it: a URL name, a path or a
    full URL; default ``settings.LOGIN_URL``) leads to a view.

    A URL on another host (a single sign-on service) counts as leading
    somewhere; a path must resolve in ``urlconf`` (default ``ROOT_URLCONF``).
    """
    url = settings.LOGIN_URL if url is None else url
    if not url:
        return False
    try:
        target = str(resolve_url(url))
    except NoReverseMatch:  # a URL name that is not mounted
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return True
    path = parts.path
    if not path.startswith("/"):
        return False
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        resolve(path, urlconf)
    except Resolver404:
        return False
    return True


class SignInRequiredMixin(LoginRequiredMixin):
    # (django-stubs types handle_no_permission() as returning a redirect
    # only; Django itself accepts any response, and raises PermissionDenied.)
    """``LoginRequiredMixin`` that redirects to the login URL only if it
    resolves; if it does not, a signed-out visitor gets a 403 page (template
    ``autoaudit/sign_in_required.html``) saying that signing in is required."""

    sign_in_template_name = "autoaudit/sign_in_required.html"
    request: HttpRequest

    def handle_no_permission(self) -> HttpResponseBase:  # type: ignore[override]
        user = getattr(self.request, "user", None)
        if getattr(user, "is_authenticated", False) or self.raise_exception:
            return super().handle_no_permission()
        urlconf = getattr(self.request, "urlconf", None)
        if login_url_resolves(self.get_login_url(), urlconf):
            return super().handle_no_permission()
        return self.sign_in_required()

    def sign_in_required(self) -> HttpResponseBase:
        """The answer when there is no login page to send the visitor to."""
        context = {"debug": settings.DEBUG}
        return TemplateResponse(self.request, self.sign_in_template_name, context, status=403)
