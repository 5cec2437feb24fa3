"""The benchmark's own logic (``benchmarks/``) that runs without its packages.

The ``request`` op's view is run here for real, on the test app's
``Product``, with the bench's own ``ATOMIC_REQUESTS`` switch; the rest are
the pure helpers that decide what the report says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from autoaudit.models import ActivityLog
from benchmarks import run, scale
from tests.testapp.models import Product
from tests.typing_support import Track

URL = "/bench/request/testapp.Product/"


def _bench() -> run.Bench:
    bench = run.Bench(run.parse_args(["--db", "sqlite", "--output", "/tmp/unused"]))
    bench.connection = connection
    return bench


def _post(client: Client, products: list[Product], sku: str) -> tuple[Any, list[str]]:
    data = {"pks": ",".join(str(p.pk) for p in products), "name": "Renamed", "sku": sku}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(URL, data)
    return response, [q["sql"] for q in captured.captured_queries]


@pytest.mark.urls("tests.bench_urls")
@pytest.mark.django_db(transaction=True)
def test_request_op_view_logs_five_rows_in_one_commit(track: Track, alice: User) -> None:
    track(Product)
    client = Client()
    client.force_login(alice)
    products = [Product.objects.create(name=f"p{i}", price=Decimal("1.00")) for i in range(8)]
    before = ActivityLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    bench = _bench()

    with bench.atomic_requests():
        assert connection.settings_dict["ATOMIC_REQUESTS"] is True
        response, statements = _post(client, products[:4], "new-1")
    assert response.status_code == 200, response.content
    assert response.json()["updated"] == 4
    logs = list(ActivityLog.objects.filter(pk__gt=before).order_by("pk"))
    assert [log.action for log in logs] == ["update"] * 4 + ["create"]
    assert {(log.actor_type, log.user_id) for log in logs} == {("user", alice.pk)}
    assert all(log.changed_fields == ["name", "price"] for log in logs[:4])
    assert run._commits(statements) == 1
    assert run.request_problems("autoaudit", run._commits(statements), len(logs)) == []

    # The switch is for that op alone: afterwards each write commits on its own.
    assert connection.settings_dict["ATOMIC_REQUESTS"] is False
    response, statements = _post(client, products[4:], "new-2")
    assert response.status_code == 200
    assert run._commits(statements) == 5
    assert run.request_problems("autoaudit", run._commits(statements), 5) == [
        "5 commits per request, expected 1 (ATOMIC_REQUESTS)"
    ]


@pytest.mark.urls("tests.bench_urls")
@pytest.mark.django_db
def test_request_op_view_refuses_anonymous() -> None:
    response = Client().post(URL, {"pks": "1", "name": "x", "sku": "y"})
    assert response.status_code == 403


def test_request_problems() -> None:
    assert run.request_problems("untracked", 1, None) == []
    assert run.request_problems("auditlog", 1, 4) == ["4 log rows per request, expected 5"]


def test_scale_rows_option() -> None:
    assert run.parse_args(["--db", "postgres"]).scale_rows == 1_000_000
    assert run.parse_args(["--quick"]).scale_rows == 20_000
    assert run.parse_args(["--scale-rows", "0"]).scale_rows == 0
    with pytest.raises(SystemExit):
        run.parse_args(["--scale-rows", "500"])


def test_plan_scans() -> None:
    plan = """Limit  (cost=0.56..60.10 rows=50 width=389)
  ->  Index Scan using idx_actlog_comp_pk_time on activity_logs  (cost=0.56..71.78)
        Index Cond: ((computed_entity)::text = 'benchapp.AAItem'::text)
  ->  Bitmap Index Scan on idx_actlog_trgm_actor_name  (cost=0.00..4.45 rows=16 width=0)
  ->  Parallel Seq Scan on activity_logs  (cost=0.00..9.1)"""
    assert scale.plan_scans(plan) == [
        "Index Scan using idx_actlog_comp_pk_time",
        "Bitmap Index Scan using idx_actlog_trgm_actor_name",
        "Parallel Seq Scan on activity_logs",
    ]


def test_scale_result_and_markdown_mark_each_target() -> None:
    met = scale.result("history", "for_instance", [0.4, 0.5, 0.6], "history")
    missed = scale.result("timeline", "GET /activity/", [40.0, 41.0, 45.0], "timeline")
    info = scale.result("timeline_cold", "cold", [90.0], None)
    assert (met["met"], missed["met"], info["met"]) == (True, False, None)
    assert missed["median_ms"] == 41.0 and missed["target_ms"] == 30.0
    found = {
        "rows": 1_000_000,
        "results": [met, missed, info],
        "trigram_indexes": ["idx_actlog_trgm_actor_name"],
        "plans": {
            "history": {"sql": "SELECT 1", "plan": "Index Scan using x on y", "scans": ["a"]},
            "timeline": {"statements": 7, "slowest": {"sql": "SELECT  count(*)", "ms": 3.5}},
        },
    }
    text = "\n".join(run.scale_markdown(found))
    assert "1,000,000 rows in `activity_logs`" in text
    assert "| for_instance | 0.50 ms | < 1 ms | yes |" in text
    assert "| GET /activity/ | 41.00 ms | < 30 ms | **no** |" in text
    assert "| cold | 90.00 ms | \N{EN DASH} | \N{EN DASH} |" in text
    assert "- timeline: 7 statements, slowest 3.5 ms: `SELECT count(*)...`" in text
    assert "Index Scan using x on y" in text
    assert "`idx_actlog_trgm_actor_name`" in text
