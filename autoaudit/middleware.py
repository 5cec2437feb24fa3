"""``AuditMiddleware``: make the current request known, safely under ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
import crum
from django.http import HttpRequest, HttpResponse

from autoaudit.request import _request


class AuditMiddleware:
    """Sets the request for autoaudit (a ContextVar) and for django-crum.

    Sync and async capable. The ContextVar is per task, so concurrent ASGI
    requests never see each other's request; it is reset when the response
    is returned or an exception escapes, so nothing leaks to the next one.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        token = _request.set(request)
        previous = crum.get_current_request()
        crum.set_current_request(request)
        try:
            response: HttpResponse = self.get_response(request)
            return response
        finally:
            crum.set_current_request(previous)
            _request.reset(token)

    async def __acall__(self, request: HttpRequest) -> Any:
        token = _request.set(request)
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
            return await get_response(request)
        finally:
            _request.reset(token)
