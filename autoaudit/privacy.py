"""Guest privacy: who has opted out of being identified, and how to opt out.

A guest is opted out when any of these holds (checked in this order):

1. ``AUTOAUDIT["GUEST_TRACKING"]`` is ``False`` (every guest is);
2. the browser sends ``Sec-GPC: 1`` (Global Privacy Control) and
   ``HONOR_GPC`` is on (the default);
3. the browser sends ``DNT: 1`` (Do Not Track) and ``HONOR_DNT`` is on
   (the default);
4. the request carries the opt-out cookie (``OPT_OUT_COOKIE``), which
   :func:`opt_out_view` sets and :func:`opt_in_view` removes.

An opted-out guest's data changes are still logged (the audit of the data
stays complete) but with no identifier, name, IP address, user agent or
metadata; their ``view`` events are not logged at all. Signed-in users are
not affected: their actions are attributed to their account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from autoaudit.conf import get_settings

#: How long the opt-out cookie lasts: one year, then the browser forgets it.
OPT_OUT_COOKIE_MAX_AGE = 365 * 24 * 60 * 60
#: The value :func:`opt_out_view` stores in the cookie.
OPT_OUT_COOKIE_VALUE = "1"
#: Cookie values that do *not* mean "opted out" (a consent tool may write them).
_NOT_OPTED_OUT = frozenset({"", "0", "false", "no", "off"})

#: Reasons returned by :func:`opt_out_reason`.
REASON_SETTING = "setting"
REASON_GPC = "gpc"
REASON_DNT = "dnt"
REASON_COOKIE = "cookie"


def _meta(request: Any) -> Mapping[str, Any]:
    meta = getattr(request, "META", None)
    return meta if isinstance(meta, Mapping) else {}


def _cookies(request: Any) -> Mapping[str, Any]:
    cookies = getattr(request, "COOKIES", None)
    return cookies if isinstance(cookies, Mapping) else {}


def _header_is_one(meta: Mapping[str, Any], key: str) -> bool:
    value = meta.get(key)
    return isinstance(value, str) and value.strip() == "1"


def opt_out_reason(request: Any) -> str | None:
    """Why a guest making ``request`` is opted out, or ``None`` if they are not.

    Returns ``"setting"`` (``GUEST_TRACKING`` is off), ``"gpc"``, ``"dnt"``
    or ``"cookie"``. ``request`` may be ``None`` (no request: only the
    setting counts) or a wrapper such as Django REST framework's ``Request``.
    """
    settings = get_settings()
    if not settings.GUEST_TRACKING:
        return REASON_SETTING
    if request is None:
        return None
    from autoaudit.request import as_request

    resolved = as_request(request)
    if resolved is not None:
        request = resolved
    meta = _meta(request)
    if settings.HONOR_GPC and _header_is_one(meta, "HTTP_SEC_GPC"):
        return REASON_GPC
    if settings.HONOR_DNT and _header_is_one(meta, "HTTP_DNT"):
        return REASON_DNT
    value = _cookies(request).get(settings.OPT_OUT_COOKIE)
    if isinstance(value, str) and value.strip().lower() not in _NOT_OPTED_OUT:
        return REASON_COOKIE
    return None


def guest_opted_out(request: Any) -> bool:
    """True when a guest's identifying data must not be stored."""
    return opt_out_reason(request) is not None


# -- views --------------------------------------------------------------------


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
