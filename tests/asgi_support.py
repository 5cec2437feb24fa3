"""Async helpers for the tests: run coroutines, drive an ASGI app directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connections

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, then close the connections that asgiref's
    shared sync thread opened (the test client does not close them, and an
    open one blocks dropping the PostgreSQL test database)."""

    async def main() -> T:
        try:
            return await coroutine
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


class Response:
    """What :func:`asgi_request` got back."""

    def __init__(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status_code = status
        self.content = body
        #: Response headers by lower-case name (the last of repeated ones).
        self.headers = {name.decode().lower(): value.decode() for name, value in headers or []}

    def json(self) -> Any:
        return json.loads(self.content)


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    *,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    timeout: float = 30,
) -> Response:
    """Send one HTTP request straight to an ASGI application (as a server would)."""
    body = urlencode(form or {}).encode()
    raw_headers = [(b"host", b"testserver")]
    if form is not None:
        raw_headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        raw_headers.append((b"content-length", str(len(body)).encode()))
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode(), value.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": client,
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout)
    chunks = []
    while True:
        message = await communicator.receive_output(timeout)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(timeout)
    return Response(start["status"], b"".join(chunks), start.get("headers"))
