"""The id of a request: the trusted proxy's ``X-Request-ID``, else a new one."""

from __future__ import annotations

import uuid
from typing import Any

from autoaudit.actors.ip import from_trusted_proxy
from autoaudit.actors.scopes import is_valid_request_id

#: The header read from a trusted proxy and set on every response.
REQUEST_ID_HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"


def new_request_id() -> str:
    """A fresh request id (a UUID4, as 32 hex digits)."""
    return uuid.uuid4().hex


def request_id_for(request: Any) -> str:
    """The id of ``request``.

    The ``X-Request-ID`` header is used only when the peer is a trusted
    proxy (``AUTOAUDIT["TRUSTED_PROXIES"]``) and the value is a valid id (at
    most 64 safe characters); otherwise, a forged or malformed header
    included, the request gets a new id. Never raises.
    """
    meta = getattr(request, "META", None)
    header = meta.get(_META_KEY) if isinstance(meta, dict) else None
    header = header.strip() if isinstance(header, str) else None
    if header and is_valid_request_id(header) and from_trusted_proxy(request):
        return header
    return new_request_id()
