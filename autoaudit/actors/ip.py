"""The client's IP address, honouring ``X-Forwarded-For`` only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from autoaudit.actors.request import as_request
from autoaudit.conf import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: ``X-Forwarded-For`` hops looked at, right to left (a bound on the work a
#: forged, huge header can cause).
MAX_FORWARDED_HOPS = 32


def parse_ip(value: Any) -> IPAddress | None:
    """An IP address from a header value, or ``None`` if it is not one.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:8000`` and IPv6
    zone ids; IPv4-mapped IPv6 addresses become IPv4.
    """
    if not isinstance(value, str) or len(value) > 100:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:8000"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress) -> bool:
    return any(address in network for network in get_settings().TRUSTED_PROXIES)


def _meta(request: Any) -> Mapping[str, Any] | None:
    resolved = as_request(request)
    meta = getattr(resolved if resolved is not None else request, "META", None)
    return meta if isinstance(meta, Mapping) else None


def from_trusted_proxy(request: Any) -> bool:
    """Whether the request's peer (``REMOTE_ADDR``) is one of
    ``AUTOAUDIT["TRUSTED_PROXIES"]``, so the headers it adds may be believed."""
    meta = _meta(request)
    remote = parse_ip(meta.get("REMOTE_ADDR")) if meta is not None else None
    return remote is not None and _trusted(remote)


def get_client_ip(request: Any) -> str | None:
    """The client's address, or ``None`` if it is missing or invalid.

    ``X-Forwarded-For`` is honoured only when ``REMOTE_ADDR`` is one of
    ``AUTOAUDIT["TRUSTED_PROXIES"]``; then the client is the right-most
    address in the header that is not itself a trusted proxy. A forged
    header from any other client is ignored. If the hop where the client
    should be is not an address, the client is unknown (``None``): the
    addresses to its left were written by nobody we trust.
    """
    meta = _meta(request)
    if meta is None:
        return None
    remote = parse_ip(meta.get("REMOTE_ADDR"))
    if remote is None:
        return None
    if not _trusted(remote):
        return str(remote)
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not isinstance(forwarded, str) or not forwarded.strip():
        return str(remote)
    hops = forwarded.rsplit(",", MAX_FORWARDED_HOPS)
    if len(hops) > MAX_FORWARDED_HOPS:
        hops = hops[1:]  # the left-most piece holds the unexamined rest
    client = remote
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            return None
        client = address
        if not _trusted(address):
            break
    # If every hop is a trusted proxy, the left-most one is the best we know.
    return str(client)
