"""``autoaudit.actor`` / ``context`` / ``disabled``: scopes, decorators, isolation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

import autoaudit
from autoaudit.actors.scopes import current_actor, current_extra, is_disabled
from autoaudit.models import ActivityLog
from tests.testapp.models import Product
from tests.typing_support import Track


def _identifier() -> str | None:
    explicit = current_actor()
    return explicit.identifier if explicit is not None else None


# -- context managers ------------------------------------------------------------
def test_actor_nesting_inner_wins_and_outer_is_restored() -> None:
    assert current_actor() is None
    with autoaudit.actor(identifier="outer"):
        assert _identifier() == "outer"
        with autoaudit.actor(identifier="inner"):
            assert _identifier() == "inner"
        assert _identifier() == "outer"
    assert current_actor() is None


def test_context_merges_inner_over_outer() -> None:
    with autoaudit.context(source="import", batch_id="b-1"):
        with autoaudit.context(batch_id="b-2", row=3):
            assert dict(current_extra()) == {"source": "import", "batch_id": "b-2", "row": 3}
        assert dict(current_extra()) == {"source": "import", "batch_id": "b-1"}
    assert dict(current_extra()) == {}


def test_disabled_nests() -> None:
    with autoaudit.disabled():
        with autoaudit.disabled():
            assert is_disabled()
        assert is_disabled()
    assert not is_disabled()


def test_scope_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), autoaudit.actor(identifier="x"), autoaudit.disabled():
        raise RuntimeError
    assert current_actor() is None
    assert not is_disabled()


def test_one_scope_object_can_be_reused_and_reentered() -> None:
    scope = autoaudit.context(step="a")
    with scope:
        with scope:
            assert current_extra()["step"] == "a"
        assert current_extra()["step"] == "a"
    assert dict(current_extra()) == {}
    with scope:
        assert current_extra()["step"] == "a"


def test_exit_without_enter_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without being entered"):
        autoaudit.disabled().__exit__(None, None, None)


def test_actor_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="actor_type"):
        autoaudit.actor(actor_type="robot")
    # wrong types on purpose (as an untyped caller might pass them)
    with pytest.raises(TypeError, match="metadata"):
        autoaudit.actor(metadata=["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="user"):
        autoaudit.actor(user="alice")  # type: ignore[arg-type]


def test_actor_metadata_is_copied() -> None:
    metadata = {"source": "api"}
    scope = autoaudit.actor(metadata=metadata)
    metadata["source"] = "changed"
    with scope:
        explicit = current_actor()
        assert explicit is not None and explicit.metadata == {"source": "api"}


# -- decorators -------------------------------------------------------------------
def test_decorators_on_sync_functions() -> None:
    @autoaudit.actor(identifier="job")
    @autoaudit.context(source="cron")
    @autoaudit.disabled()
    def job() -> tuple[str | None, dict[str, Any], bool]:
        return _identifier(), dict(current_extra()), is_disabled()

    assert job() == ("job", {"source": "cron"}, True)
    assert job.__name__ == "job"
    assert current_actor() is None and not is_disabled()


def test_decorators_on_async_functions() -> None:
    @autoaudit.actor(identifier="async-job")
    @autoaudit.context(source="worker")
    async def job() -> tuple[str | None, dict[str, Any]]:
        await asyncio.sleep(0)
        return _identifier(), dict(current_extra())

    assert asyncio.run(job()) == ("async-job", {"source": "worker"})
    assert current_actor() is None


def test_async_with_works() -> None:
    async def run() -> tuple[str | None, str | None]:
        async with autoaudit.actor(identifier="a"):
            inside = _identifier()
        return inside, _identifier()

    assert asyncio.run(run()) == ("a", None)


# -- isolation --------------------------------------------------------------------
def test_isolated_between_threads() -> None:
    seen: dict[str, list[str | None]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        with autoaudit.actor(identifier=name):
            barrier.wait()  # all four are inside their scope at once
            seen[name] = [_identifier()]
            barrier.wait()
        seen[name].append(_identifier())

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"t{i}": [f"t{i}", None] for i in range(4)}


def test_a_thread_does_not_see_the_callers_scope() -> None:
    result: list[bool] = []
    with autoaudit.disabled():
        thread = threading.Thread(target=lambda: result.append(is_disabled()))
        thread.start()
        thread.join()
    assert result == [False]


def test_isolated_between_asyncio_tasks() -> None:
    async def task(name: str, delay: float) -> list[str | None]:
        async with autoaudit.actor(identifier=name):
            await asyncio.sleep(delay)
            inside = _identifier()
            await asyncio.sleep(0)
        return [inside, _identifier()]

    async def run() -> list[list[str | None]]:
        return list(await asyncio.gather(*(task(f"k{i}", 0.001 * (5 - i)) for i in range(5))))

    assert asyncio.run(run()) == [[f"k{i}", None] for i in range(5)]


def test_shared_scope_object_across_tasks() -> None:
    # One module-level scope, entered and exited by concurrent tasks in an
    # interleaved order: each exit resets its own task's value.
    shared = autoaudit.context(source="shared")

    async def task(delay: float) -> tuple[str, bool]:
        with shared:
            await asyncio.sleep(delay)
            inside = current_extra()["source"]
        return inside, "source" in current_extra()

    async def run() -> list[tuple[str, bool]]:
        return list(await asyncio.gather(task(0.003), task(0.001), task(0.002)))

    assert asyncio.run(run()) == [("shared", False)] * 3


def test_shared_decorated_function_in_threads() -> None:
    @autoaudit.context(source="decorated")
    def work(out: list[Any], barrier: threading.Barrier) -> None:
        barrier.wait()
        out.append(current_extra()["source"])

    out: list[Any] = []
    barrier = threading.Barrier(3)
    threads = [threading.Thread(target=work, args=(out, barrier)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert out == ["decorated"] * 3


# -- effect on logs ---------------------------------------------------------------
@pytest.mark.django_db
def test_context_goes_into_extra_data(track: Track) -> None:
    track(Product)
    with autoaudit.context(source="import", batch_id="b-12"):
        Product.objects.create(name="p")
    assert ActivityLog.objects.get().extra_data == {"source": "import", "batch_id": "b-12"}


@pytest.mark.django_db
def test_disabled_logs_nothing_and_costs_no_query(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="p")
    with autoaudit.disabled(), CaptureQueriesContext(connection) as queries:
        product.name = "q"
        product.save()
    assert len(queries) == 1  # the UPDATE itself
    assert ActivityLog.objects.count() == 1  # only the create


@pytest.mark.django_db
def test_explicit_actor_outside_a_request(track: Track) -> None:
    track(Product)
    user = get_user_model()._default_manager.create_user("ann", "ann@example.com", "x")
    with autoaudit.actor(user=user):
        Product.objects.create(name="by ann")
    with autoaudit.actor(actor_type="system", name="nightly import"):
        Product.objects.create(name="by system")
    Product.objects.create(name="no actor")
    logs = {log.new_values["name"]: log for log in ActivityLog.objects.all()}
    assert (logs["by ann"].actor_type, logs["by ann"].user_id) == ("user", user.pk)
    assert (logs["by system"].actor_type, logs["by system"].actor_name) == (
        "system",
        "nightly import",
    )
    assert (logs["no actor"].actor_type, logs["no actor"].actor_identifier) == ("system", None)
