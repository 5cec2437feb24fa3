"""Attribution under ASGI: concurrent async requests from different actors.

Requests go straight into ``get_asgi_application()`` (as an ASGI server would
send them), all at once with ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import crum
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.asgi import get_asgi_application
from django.test import Client

from autoaudit.actors.request import current_request
from autoaudit.actors.resolve import session_id
from autoaudit.models import ActivityLog
from tests.asgi_support import Response, asgi_request, run_async
from tests.testapp.models import Product
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS_PER_ACTOR = 10


def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _actors() -> list[dict[str, Any]]:
    """Three users and two guests (one with a session, one with only an IP)."""
    model = get_user_model()
    actors: list[dict[str, Any]] = []
    for index in range(3):
        user = model._default_manager.create_user(
            username=f"user{index}", email=f"user{index}@example.com", password="x"
        )
        actors.append(
            {
                "label": f"user{index}",
                "cookies": {settings.SESSION_COOKIE_NAME: _session_cookie(user)},
                "ip": f"198.51.100.{index + 1}",
                "expect": ("user", f"user{index}@example.com", user.pk),
            }
        )
    session = SessionStore()
    session["cart"] = [1]
    session.create()
    request_like = type("R", (), {"session": session})()
    actors.append(
        {
            "label": "guest-session",
            "cookies": {settings.SESSION_COOKIE_NAME: session.session_key},
            "ip": "203.0.113.10",
            "expect": ("guest", session_id(request_like), None),
        }
    )
    actors.append(
        {
            "label": "guest-ip",
            "cookies": {},
            "ip": "203.0.113.99",
            "expect": ("guest", "203.0.113.99", None),
        }
    )
    return actors


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    if not cookies:
        return {}
    return {"cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def _fire(app: Callable[..., Any], actors: list[dict[str, Any]]) -> list[Response]:
    calls = [
        asgi_request(
            app,
            "POST",
            "/actors/async-create/",
            form={"name": f"{actor['label']}#{index}"},
            headers={
                "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
                **_cookie_header(actor["cookies"]),
            },
            client=(actor["ip"], 5000 + index),
        )
        for index in range(REQUESTS_PER_ACTOR)
        for actor in actors
    ]
    return list(await asyncio.gather(*calls))


def test_concurrent_async_requests_are_attributed_to_their_own_actor(track: Track) -> None:
    track(Product)
    actors = _actors()
    app = get_asgi_application()

    responses = run_async(_fire(app, actors))

    assert len(responses) == 5 * REQUESTS_PER_ACTOR
    assert all(r.status_code == 200 for r in responses), [r.content for r in responses][:3]
    # crum saw the right request in every task, before and after awaits.
    assert all(r.json()["crum_ok"] for r in responses)

    by_label = {actor["label"]: actor["expect"] for actor in actors}
    logs = list(ActivityLog.objects.filter(computed_entity="testapp.Product", action="create"))
    assert len(logs) == 5 * REQUESTS_PER_ACTOR
    for log in logs:
        label = log.new_values["name"].split("#")[0]
        actor_type, identifier, user_id = by_label[label]
        assert (log.actor_type, log.actor_identifier, log.user_id) == (
            actor_type,
            identifier,
            user_id,
        ), label
    # Nothing is left current once the requests are done.
    assert current_request() is None
    assert crum.get_current_request() is None


def test_no_state_leaks_after_an_async_view_raises(track: Track) -> None:
    track(Product)
    app = get_asgi_application()

    async def run() -> tuple[int, int]:
        failed = await asgi_request(app, "GET", "/actors/async-raise/")
        after = await asgi_request(app, "POST", "/actors/async-create/", form={"name": "after"})
        return failed.status_code, after.status_code

    assert run_async(run()) == (500, 200)
    assert current_request() is None
    assert crum.get_current_request() is None
    log = ActivityLog.objects.get(computed_entity="testapp.Product")
    assert log.actor_type == "guest"


def test_sync_view_under_asgi_is_attributed(track: Track) -> None:
    track(Product)
    user = get_user_model()._default_manager.create_user("sync", "sync@example.com", "x")
    session = _session_cookie(user)
    app = get_asgi_application()

    async def run() -> list[Response]:
        cookie = _cookie_header({settings.SESSION_COOKIE_NAME: session})
        calls = [
            asgi_request(app, "POST", "/actors/sync-create/", form={"name": "s"}, headers=cookie)
            for _ in range(5)
        ]
        return list(await asyncio.gather(*calls))

    responses = run_async(run())
    assert all(r.json()["crum_ok"] for r in responses)
    assert set(ActivityLog.objects.values_list("actor_identifier", flat=True)) == {
        "sync@example.com"
    }
