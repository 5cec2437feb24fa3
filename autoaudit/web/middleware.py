"""``AuditMiddleware``: make the current request known, safely under ASGI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from autoaudit.actors.request import request_scope
from autoaudit.actors.requestid import REQUEST_ID_HEADER, request_id_for
from autoaudit.actors.scopes import context
from autoaudit.web.events import log_post, wants_post_log


class AuditMiddleware:
    """Makes the request current for autoaudit and for django-crum.

    Place it after ``AuthenticationMiddleware``. It is sync and async
    capable: under ASGI with async views it runs without a thread switch.
    The request is kept in context variables (django-crum's storage is made
    context-local at start-up, see ``tracking.patches.install_crum_storage``),
    so concurrent requests never see each other's; both are restored when the
    response is returned or an exception escapes, so nothing leaks to the
    next request.

    Every request gets an id (:func:`~autoaudit.actors.requestid.request_id_for`:
    a trusted proxy's ``X-Request-ID``, else a new UUID), set on every log
    written while it is served and on the response as ``X-Request-ID``.

    The actor is not read here: the user is looked up when each log is
    written, so authentication done inside the view (tokens, JWT) counts.

    With ``AUTOAUDIT["LOG_POST_REQUESTS"] = True`` it also logs every
    successful (2xx) POST outside ``LOG_POST_SKIP_PREFIXES``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        request_id = request_id_for(request)
        with request_scope(request), context(request_id=request_id):
            response: HttpResponseBase = self.get_response(request)
            if wants_post_log(request, response):
                log_post(request, response)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response = cast(Callable[[HttpRequest], Awaitable[HttpResponseBase]], self.get_response)
        request_id = request_id_for(request)
        with request_scope(request), context(request_id=request_id):
            response = await get_response(request)
            if wants_post_log(request, response):
                await sync_to_async(log_post)(request, response)
        response[REQUEST_ID_HEADER] = request_id
        return response
