"""The guests' opt-out pages: a status page, opt out and opt back in.

Include them with ``path("privacy/", include("autoaudit.privacy_urls"))``;
:mod:`autoaudit.actors.consent` decides who counts as opted out.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from autoaudit.actors.consent import REASON_COOKIE, opt_out_reason
from autoaudit.conf import get_settings
from autoaudit.web.layout import page_context

#: How long the opt-out cookie lasts: one year, then the browser forgets it.
OPT_OUT_COOKIE_MAX_AGE = 365 * 24 * 60 * 60
#: The value :func:`opt_out_view` stores in the cookie.
OPT_OUT_COOKIE_VALUE = "1"


def _next_url(request: HttpRequest) -> str | None:
    """The ``next`` URL (POST or query string) if it is safe to redirect to."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _status_page(request: HttpRequest, *, cookie_set: bool | None) -> HttpResponse:
    """The small status page (template ``autoaudit/privacy_status.html``).

    ``cookie_set`` says what this response does to the cookie (``True``
    sets it, ``False`` removes it, ``None`` leaves it), because the request
    still carries the old cookie.
    """
    reason = opt_out_reason(request)
    if cookie_set is True and reason is None:
        reason = REASON_COOKIE
    elif cookie_set is False and reason == REASON_COOKIE:
        reason = None
    context = {
        "opted_out": reason is not None,
        "reason": reason,
        "next": _next_url(request) or "",
        "opt_out_url": _sibling_url(request, "opt_out"),
        "opt_in_url": _sibling_url(request, "opt_in"),
        **page_context(request),
    }
    return render(request, "autoaudit/privacy_status.html", context)


def _sibling_url(request: HttpRequest, name: str) -> str:
    """The URL of another view of this include, whatever namespace it sits in."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match is not None and match.namespace else "autoaudit_privacy"
    return reverse(f"{namespace}:{name}")


def _done(request: HttpRequest, *, cookie_set: bool) -> HttpResponse:
    target = _next_url(request)
    if target is not None:
        return HttpResponseRedirect(target)
    return _status_page(request, cookie_set=cookie_set)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def opt_out_view(request: HttpRequest) -> HttpResponse:
    """Opt this browser out of guest tracking (sets the opt-out cookie).

    Works as a plain link (``GET``) and as a form (``POST``); redirects to a
    same-site ``next`` URL if one is given, else shows a status page.
    """
    settings = get_settings()
    response = _done(request, cookie_set=True)
    response.set_cookie(
        settings.OPT_OUT_COOKIE,
        OPT_OUT_COOKIE_VALUE,
        max_age=OPT_OUT_COOKIE_MAX_AGE,
        secure=request.is_secure(),
        samesite="Lax",
    )
    return response


@never_cache
@require_POST
def opt_in_view(request: HttpRequest) -> HttpResponse:
    """Remove the opt-out cookie (``POST`` only, CSRF-protected).

    Only ``POST`` is accepted so another site cannot opt a visitor back in
    with a link. A browser that sends ``Sec-GPC``/``DNT`` stays opted out:
    its signal is honoured regardless of the cookie.
    """
    settings = get_settings()
    response = _done(request, cookie_set=False)
    response.delete_cookie(settings.OPT_OUT_COOKIE, samesite="Lax")
    return response


@never_cache
@require_GET
def privacy_status_view(request: HttpRequest) -> HttpResponse:
    """Show whether this browser is opted out, with buttons to change it."""
    return _status_page(request, cookie_set=None)
