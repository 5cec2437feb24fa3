"""Guest consent: whether a guest has opted out of being identified.

A guest is opted out when any of these holds (checked in this order):

1. ``AUTOAUDIT["GUEST_TRACKING"]`` is ``False`` (every guest is);
2. the browser sends ``Sec-GPC: 1`` (Global Privacy Control) and
   ``HONOR_GPC`` is on (the default);
3. the browser sends ``DNT: 1`` (Do Not Track) and ``HONOR_DNT`` is on
   (the default);
4. the request carries the opt-out cookie (``OPT_OUT_COOKIE``), which the
   views of :mod:`autoaudit.web.privacy` set and remove.

An opted-out guest's data changes are still logged (the audit of the data
stays complete) but with no identifier, name, IP address, user agent or
metadata; their ``view`` events are not logged at all. Signed-in users are
not affected: their actions are attributed to their account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoaudit.actors.request import as_request
from autoaudit.conf import get_settings

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
