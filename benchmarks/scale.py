"""History at scale (PostgreSQL only): autoaudit's reads with a big log table.

``benchmarks/run.py`` runs this phase in a process of its own, on a bench
database of its own (the main one's name plus ``_scale``), so its
``--scale-rows`` rows (1,000,000 by default) never change the tables the other
ops run against. The rows are generated once per database with one
``INSERT ... SELECT generate_series`` (users, actors, actions, entities and
time spread as below) and reused. Then, each against its target:

- the 50 newest entries of one object, ``for_instance(obj)[:50]`` (< 1 ms),
  with ``EXPLAIN (ANALYZE, BUFFERS)`` of its SQL;
- the first timeline page for a superuser, ``GET /activity/`` (< 30 ms);
- the admin changelist search, ``GET /admin/autoaudit/activitylog/?q=...``
  for a common, a rare and an absent term (< 200 ms), with the plan of its
  main statement, and once more with the trigram indexes of migration 0004
  dropped in a transaction that is rolled back (the "before" numbers).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

TARGETS_MS = {"history": 1.0, "timeline": 30.0, "admin_search": 200.0}
USERS = 500
#: entries of the object whose history is read, spread over the whole table
TARGET_ENTRIES = 150
#: (term, what it matches) for the admin search
SEARCH_TERMS = [
    ("okafor", "a surname: 20 of the 500 users, ~3% of the rows"),
    ("maria.okafor12@", "one user's e-mail, ~0.2% of the rows"),
    ("zqxj", "nothing"),
]
FIRST = ["Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
FIRST += ["Kofi", "Lena", "Maria", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq"]
LAST = ["Smith", "Okafor", "Garcia", "Nguyen", "Muller", "Rossi", "Kim", "Silva", "Haddad"]
LAST += ["Novak", "Ivanova", "Tanaka", "Dubois", "Jensen", "Kowalski", "Costa", "Sato"]
LAST += ["Moreau", "Larsen", "Patel", "Fischer", "Santos", "Berg", "Lopez", "Ito"]
#: (entity, computed_entity, display name): the entities the generated logs are about
ENTITIES = [
    ("order", "shop.Order", "Order"),
    ("product", "shop.Product", "Product"),
    ("customer", "shop.Customer", "Customer"),
    ("invoice", "shop.Invoice", "Invoice"),
    ("shipment", "shop.Shipment", "Shipment"),
    ("coupon", "shop.Coupon", "Coupon"),
    ("post", "blog.Post", "Post"),
    ("comment", "blog.Comment", "Comment"),
    ("user", "auth.User", "User"),
    ("aaitem", "benchapp.AAItem", "Item"),
]
OBJECTS_PER_ENTITY = 20_000  # so an object has about rows / 200,000 entries
SCALE_VERSION = 2  # bump when the generated data changes


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def fill(connection: Any, rows: int, target_pk: int) -> None:
    """``USERS`` users and ``rows`` log rows (the log table emptied first), in
    creation order: the ids grow with ``created_at``, spread over two years.
    85% of the rows are by a user (e-mail identifier, "First Last" name), 10%
    by the system, 5% by guests; 25% create, 60% update, 8% delete, 5% view,
    2% login; ten entities alike, 20,000 objects each; ``TARGET_ENTRIES``
    updates of the ``AAItem`` ``target_pk`` evenly through the table."""
    first, last = _array(FIRST), _array(LAST)
    names = [e[0] for e in ENTITIES], [e[1] for e in ENTITIES], [e[2] for e in ENTITIES]
    entity, computed, title = (_array(list(n)) for n in names)
    step = max(1, rows // TARGET_ENTRIES)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE activity_logs")
        cursor.execute("DELETE FROM auth_user WHERE username LIKE 'scale-%%'")
        cursor.execute(
            f"""
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'scale-' || u,
                   ({first})[1 + u % 20], ({last})[1 + u / 20],
                   lower(({first})[1 + u % 20] || '.' || ({last})[1 + u / 20] || (u % 20))
                       || '@example.com',
                   false, true, now() - interval '3 years'
            FROM generate_series(0, {USERS - 1}) AS u
            ORDER BY u
            """
        )
        cursor.execute("SELECT min(id), max(id) FROM auth_user WHERE username LIKE 'scale-%%'")
        low, high = cursor.fetchone()
        if high - low != USERS - 1:
            raise RuntimeError("scale users did not get consecutive ids")
        cursor.execute(
            f"""
            INSERT INTO activity_logs (
                user_id, actor_type, actor_identifier, actor_name, action, entity,
                computed_entity, entity_id, entity_pk, entity_name, old_values, new_values,
                changed_fields, description, ip_address, user_agent, actor_metadata,
                created_at)
            SELECT
                CASE WHEN s.kind = 'user' THEN {low} + s.u END,
                s.kind,
                CASE s.kind
                    WHEN 'user' THEN lower(({first})[1 + s.u % 20] || '.'
                        || ({last})[1 + s.u / 20] || (s.u % 20)) || '@example.com'
                    WHEN 'guest' THEN 'guest' || (s.h2 % 50000) || '@mail.test'
                END,
                CASE s.kind
                    WHEN 'user' THEN ({first})[1 + s.u % 20] || ' ' || ({last})[1 + s.u / 20]
                    WHEN 'guest' THEN 'Guest'
                END,
                s.action, ({entity})[s.e], ({computed})[s.e], s.oid, s.oid::text,
                ({title})[s.e] || ' #' || s.oid,
                CASE WHEN s.action IN ('update', 'delete')
                     THEN '{{"status": "pending", "total": "19.90"}}'::jsonb END,
                CASE WHEN s.action IN ('create', 'update')
                     THEN '{{"status": "paid", "total": "19.90"}}'::jsonb END,
                CASE WHEN s.action = 'update' THEN '["status"]'::jsonb END,
                initcap(s.action) || ' ' || ({entity})[s.e] || ' "' || ({title})[s.e]
                    || ' #' || s.oid || '".',
                CASE WHEN s.kind <> 'system'
                     THEN ('10.' || (s.h2 % 250) || '.' || (s.h1 % 250) || '.'
                           || (1 + s.u % 250))::inet
                END,
                CASE WHEN s.kind <> 'system'
                     THEN 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
                END,
                -- Guests carry their session (a keyed hash in real rows); one
                -- login in ten comes from a session seen as a guest before.
                CASE WHEN s.kind = 'guest'
                     THEN jsonb_build_object('session_id', 'sess_' || (s.h2 % 50000))
                     WHEN s.action = 'login' AND s.h2 % 10 = 0
                     THEN jsonb_build_object('guest_session_id', 'sess_' || (s.h1 % 50000))
                END,
                now() - interval '730 days' + interval '730 days' * (s.i::float8 / {rows})
            FROM (
                SELECT i, h1, h2, h3, (h2 / 7) % {USERS} AS u,
                    CASE WHEN h1 % 100 < 85 THEN 'user' WHEN h1 % 100 < 95 THEN 'system'
                         ELSE 'guest' END AS kind,
                    CASE WHEN i % {step} = 0 THEN 'update'
                         WHEN h3 % 100 < 25 THEN 'create' WHEN h3 % 100 < 85 THEN 'update'
                         WHEN h3 % 100 < 93 THEN 'delete' WHEN h3 % 100 < 98 THEN 'view'
                         ELSE 'login' END AS action,
                    CASE WHEN i % {step} = 0 THEN {len(ENTITIES)}
                         WHEN h3 % 100 >= 98 THEN 9
                         ELSE 1 + (h3 / 100) % {len(ENTITIES)} END AS e,
                    CASE WHEN i % {step} = 0 THEN {target_pk}
                         ELSE 1000000 + (h1 / 100) % {OBJECTS_PER_ENTITY} END AS oid
                FROM (
                    SELECT i, abs(hashint4(i)::bigint) AS h1, abs(hashint4(-i)::bigint) AS h2,
                           abs(hashint4(i # 1234567)::bigint) AS h3
                    FROM generate_series(1, {rows}) AS i
                ) AS g
            ) AS s
            ORDER BY s.i
            """
        )
        # The visibility map (index-only scans) and the planner statistics.
        cursor.execute("VACUUM (ANALYZE) activity_logs")
        cursor.execute("ANALYZE auth_user")


def trigram_indexes(connection: Any) -> list[str]:
    """The ``gin_trgm_ops`` indexes on ``activity_logs`` (migration 0004)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'activity_logs' "
            "AND indexdef LIKE '%%gin_trgm_ops%%' ORDER BY indexname"
        )
        return [row[0] for row in cursor.fetchall()]


def explain(connection: Any, sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


_SCAN = re.compile(
    r"(Index Only Scan(?: Backward)?|Index Scan(?: Backward)?|Bitmap Index Scan|"
    r"Parallel Seq Scan|Seq Scan)(?: using| on) (\w+)"
)


def plan_scans(plan: str) -> list[str]:
    """``"Index Scan using idx_..."``-style summaries of a plan's scans."""
    return [
        f"{kind} {'on' if 'Seq' in kind else 'using'} {name}" for kind, name in _SCAN.findall(plan)
    ]


def timed_ms(unit: Callable[[], Any], rounds: int, reps: int) -> list[float]:
    """Per-round mean time of ``unit`` in ms (one untimed call first)."""
    unit()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            unit()
        out.append((time.perf_counter() - start) / reps * 1000)
    return out


def statements(connection: Any, unit: Callable[[], Any]) -> list[dict[str, Any]]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        unit()
    return list(captured.captured_queries)


def result(
    name: str, label: str, rounds_ms: list[float], target_key: str | None, before: bool = False
) -> dict[str, Any]:
    """One measurement against its target; ``before``: a "before" number for
    comparison, whose missed target is no problem of the run."""
    median = statistics.median(rounds_ms)
    target = TARGETS_MS.get(target_key) if target_key else None
    return {
        "key": name,
        "label": label,
        "median_ms": round(median, 3),
        "rounds_ms": [round(x, 3) for x in rounds_ms],
        "target_ms": target,
        "met": None if target is None else median < target,
        "before": before,
    }


def get_ok(client: Any, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return response


def slowest(captured: list[dict[str, Any]]) -> dict[str, Any]:
    top = max(captured, key=lambda q: float(q["time"]))
    return {"sql": top["sql"], "ms": round(float(top["time"]) * 1000, 1)}


def measure(connection: Any, client: Any, target: Any, rounds: int, n: int) -> dict[str, Any]:
    """Every measurement of the phase (see the module docstring)."""
    from django.core.cache import cache
    from django.db import transaction

    from autoaudit.models import ActivityLog

    out: dict[str, Any] = {"results": [], "plans": {}}
    requests = max(1, n // 10)  # a request costs ~10-100 times a history read

    def record(
        key: str,
        label: str,
        unit: Callable[[], Any],
        target: str | None = None,
        before: bool = False,
        reps: int = requests,
        plan: str = "",
    ) -> None:
        """Time ``unit``; then, untimed, its statements, the slowest one and,
        for the statement containing ``plan``, its ``EXPLAIN (ANALYZE, BUFFERS)``."""
        out["results"].append(result(key, label, timed_ms(unit, rounds, reps), target, before))
        captured = statements(connection, unit)
        entry: dict[str, Any] = {"statements": len(captured), "slowest": slowest(captured)}
        chosen = [q for q in captured if plan and plan in q["sql"]]
        if chosen:
            sql = max(chosen, key=lambda q: float(q["time"]))["sql"]
            text = explain(connection, sql)
            entry.update(sql=sql, plan=text, scans=plan_scans(text))
        out["plans"][key] = entry

    def history() -> None:
        if len(list(ActivityLog.objects.for_instance(target)[:50])) != 50:
            raise RuntimeError("for_instance(target)[:50] did not return 50 entries")

    record(
        "history",
        "for_instance(obj)[:50], 50 newest of one object's entries",
        history,
        "history",
        reps=max(1, n),
        plan='FROM "activity_logs"',
    )

    def timeline() -> None:
        get_ok(client, "/activity/")

    def timeline_cold() -> None:
        cache.clear()
        timeline()

    record(
        "timeline",
        "GET /activity/ (first timeline page, superuser; dashboard cached)",
        timeline,
        "timeline",
    )
    record(
        "timeline_cold",
        "GET /activity/ with the cache cleared (dashboard counts and entities recomputed)",
        timeline_cold,
    )

    from autoaudit import analytics

    def uncached(unit: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            cache.clear()
            return unit()

        return run

    # The dashboard's analytics with the cache cleared: over the default 30
    # days, and over the whole table (every row in the window: the bound).
    for days, note in ((30, "last 30 days"), (730, "all rows")):
        record(
            f"heatmap_{days}d",
            f"analytics.heatmap(days={days}), cache cleared ({note})",
            uncached(lambda days=days: analytics.heatmap(days=days)),
            plan='FROM "activity_logs"',
        )
        record(
            f"conversion_{days}d",
            f"analytics.guest_conversion(days={days}), cache cleared ({note})",
            uncached(lambda days=days: analytics.guest_conversion(days=days)),
            plan='FROM "activity_logs"',
        )

    def admin(term: str) -> Callable[[], None]:
        return lambda: get_ok(client, f"/admin/autoaudit/activitylog/?q={term}")

    record("admin_changelist", "admin changelist, no search", admin(""))

    def searches(suffix: str, note: str, before: bool = False) -> None:
        for term, matches in SEARCH_TERMS:
            record(
                f"admin_search_{term}{suffix}",
                f"admin search q={term!r} ({matches}){note}",
                admin(term),
                "admin_search",
                before,
                plan="LIKE UPPER",
            )

    indexes = trigram_indexes(connection)
    out["trigram_indexes"] = indexes
    searches("", "")
    if indexes:
        # "Before": the same searches without migration 0004's indexes, in a
        # transaction that is rolled back (the indexes come back untouched).
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in indexes:
                    cursor.execute(f'DROP INDEX "{name}"')
            searches("_without_trigram", ", without the trigram indexes (before)", True)
            transaction.set_rollback(True)
    return out
