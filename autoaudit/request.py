"""The current request (django-crum behind one small adapter) and client IP.

crum keeps the request in a thread-local, which is not safe under ASGI where
many requests share a thread. ``AuditMiddleware`` therefore stores the request
in a ContextVar (per task) and also hands it to crum so other code that calls
``crum.get_current_request()`` keeps working. Readers here prefer the
ContextVar and fall back to crum (for projects that set crum themselves).
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from typing import Any

from crum import get_current_request as _crum_request

from autoaudit.conf import get_settings

_request: ContextVar[Any] = ContextVar("autoaudit_request", default=None)


def current_request() -> Any:
    """The request being served in this task or thread, or ``None``."""
    request = _request.get()
    if request is not None:
        return request
    return _crum_request()


def _valid_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:8000"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1 and "." in text:  # "1.2.3.4:5678"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in network for network in get_settings().TRUSTED_PROXIES)


def get_client_ip(request: Any) -> str | None:
    """The client's address, or ``None`` if it is missing or invalid.

    ``X-Forwarded-For`` is honoured only when ``REMOTE_ADDR`` is one of
    ``AUTOAUDIT["TRUSTED_PROXIES"]``; then the client is the right-most
    address in the header that is not itself a trusted proxy.
    """
    meta = getattr(request, "META", None)
    if not isinstance(meta, dict):
        return None
    remote = _valid_ip(meta.get("REMOTE_ADDR"))
    if remote is None:
        return None
    if not _trusted(remote):
        return str(remote)
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not isinstance(forwarded, str) or not forwarded.strip():
        return str(remote)
    for hop in reversed(forwarded.split(",")):
        address = _valid_ip(hop)
        if address is None:
            # A malformed hop: nothing to its left can be trusted either.
            return str(remote)
        if not _trusted(address):
            return str(address)
    return str(remote)
