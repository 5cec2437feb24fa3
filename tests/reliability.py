"""The reliability harness: a randomized workload on real databases and a
verifier of the log it leaves (docs/reliability.md).

Three parts, importable on their own:

- :func:`verify` checks a list of logs against the final rows: per object
  (``computed_entity``, ``entity_pk``), in id order, at most one live create
  and it comes first, every update's and delete's old values equal what the
  logs before it left (the *chain*), nothing follows a delete but a new
  create, replaying the logs gives the final row (fields and M2M lists) or
  ends with a delete, no log holds a rolled-back or rejected marker, and,
  where the caller knows them, the logs are exactly the committed changes.
- :class:`Sequential` runs create/update/no-op/delete/bulk/M2M operations with
  a fixed seed in autocommit, in committed and rolled-back ``atomic()``
  blocks, in rolled-back savepoints and as operations the database rejects,
  and keeps a model of what committed (:class:`Expected`).
- :func:`run_concurrent` runs writer threads on a few shared rows (field
  updates, M2M changes, deletes and re-creates) and counts the errors that
  reach the callers; run once tracked and once untracked to compare them.

:class:`Fault` wraps the store's ``write`` to drop or corrupt one log, so the
tests can show that the verifier sees it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import F

from autoaudit.conf import get_settings
from autoaudit.models import ActivityLog
from autoaudit.tracking.record import LogDraft
from autoaudit.tracking.registry import registry
from autoaudit.tracking.snapshot import python_value
from autoaudit.values.serialization import pk_text, to_json
from tests.testapp.models import Category, Product, Tag

#: How the tests register the models the workloads write.
PRODUCT_OPTIONS: dict[str, Any] = {
    "m2m_fields": ["tags"],
    "exclude_fields": ["created_at", "updated_at", "attachment"],
}
#: Names of rolled-back and rejected writes start with these; no log may hold them.
ROLLED_BACK = "RB#"
REJECTED = "RJ#"
MARKERS = (ROLLED_BACK, REJECTED)
#: A key no row has: a foreign key to it is rejected (at commit where deferred).
MISSING_PK = 10**9

Key = tuple[str, str]  # (computed_entity, entity_pk)
PRODUCT = "testapp.Product"
TAG = "testapp.Tag"


class HarnessError(AssertionError):
    """The workload itself went wrong (not a finding about autoaudit)."""


class _Rollback(Exception):
    """Raised inside ``atomic()`` to roll it back."""


# =============================================================================
# Logs, rows and the verifier
# =============================================================================
@dataclass(frozen=True)
class LogRecord:
    """The columns of one log the verifier reads."""

    id: int
    action: str
    entity: str
    pk: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changed: list[str] | None
    texts: tuple[str, ...] = ()  # entity_name, description

    @property
    def key(self) -> Key:
        return (self.entity, str(self.pk))


@dataclass(frozen=True)
class Schema:
    """What a model's logs hold: its tracked fields and ``m2m_fields``."""

    fields: tuple[str, ...]
    m2m: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    kind: str  # chain, replay, order, missing, marker, shape, count, lost, model
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.message}"


@dataclass
class Verification:
    logs: int = 0
    objects: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def chain_breaks(self) -> int:
        return sum(1 for v in self.violations if v.kind == "chain")

    def kinds(self) -> dict[str, int]:
        return dict(sorted(Counter(v.kind for v in self.violations).items()))

    def add(self, kind: str, where: Key | str, message: str) -> None:
        label = where if isinstance(where, str) else f"{where[0]}#{where[1]}"
        self.violations.append(Violation(kind, label, message))


def load_logs() -> list[LogRecord]:
    rows = ActivityLog.objects.order_by("id").values_list(
        "id",
        "action",
        "computed_entity",
        "entity_pk",
        "old_values",
        "new_values",
        "changed_fields",
        "entity_name",
        "description",
    )
    return [
        LogRecord(i, action, entity, pk, old, new, changed, (name or "", text or ""))
        for i, action, entity, pk, old, new, changed, name, text in rows
    ]


def schema_of(model: type[models.Model]) -> Schema:
    tracker = registry.tracker_for(model)
    if tracker is None:
        raise HarnessError(f"{model._meta.label} is not registered")
    return Schema(tuple(f.name for f in tracker.fields), tuple(f.name for f in tracker.m2m))


def final_rows(model_classes: Iterable[type[models.Model]]) -> dict[Key, dict[str, Any]]:
    """Every row of these registered models as a log would render it: tracked
    fields through the same conversion as autoaudit's (``python_value`` then
    ``to_json``), M2M fields as sorted lists of related pks."""
    conf = get_settings()
    limit = conf.MAX_VALUE_LENGTH
    bounds = {"max_items": conf.MAX_ITEMS, "max_bytes": conf.MAX_VALUE_BYTES}
    rows: dict[Key, dict[str, Any]] = {}
    for model in model_classes:
        tracker = registry.tracker_for(model)
        if tracker is None:
            raise HarnessError(f"{model._meta.label} is not registered")
        queryset = model._base_manager.order_by("pk")
        if tracker.m2m:
            queryset = queryset.prefetch_related(*(f.name for f in tracker.m2m))
        for obj in queryset:
            values = {
                f.name: to_json(python_value(f, obj.__dict__[f.attname]), limit, **bounds)
                for f in tracker.fields
            }
            for m2m in tracker.m2m:
                values[m2m.name] = sorted(o.pk for o in getattr(obj, m2m.name).all())
            rows[(tracker.computed_entity, str(pk_text(obj.pk)))] = values
    return rows


def event_of(log: LogRecord) -> str:
    """A log as ``create``, ``update:name,stock`` or ``delete``."""
    if log.action == "update":
        return "update:" + ",".join(log.changed or [])
    return log.action


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ABSENT = "<absent>"


def verify(
    logs: Sequence[LogRecord],
    final: Mapping[Key, Mapping[str, Any]],
    schemas: Mapping[str, Schema],
    *,
    markers: Sequence[str] = MARKERS,
    expected_events: Mapping[Key, Sequence[str]] | None = None,
    exempt: Iterable[Key] = (),
    expected_names: Mapping[str, int | None] | None = None,
) -> Verification:
    """Check ``logs`` (in id order) against the ``final`` rows.

    ``schemas`` names the tracked fields per ``computed_entity``; logs of
    other entities are ignored. ``expected_events`` (per key, see
    :func:`event_of`) is the exact list of logs the workload committed; every
    key not in ``exempt`` must match it (a key absent from it expects none).
    ``expected_names`` says how many logs must set ``new_values["name"]`` to
    each name (``None``: unknown, not checked).
    """
    result = Verification()
    groups: dict[Key, list[LogRecord]] = defaultdict(list)
    for log in sorted(logs, key=lambda record: record.id):
        if log.entity not in schemas:
            continue
        result.logs += 1
        blob = json.dumps([log.old, log.new, *log.texts], default=str)
        for marker in markers:
            if marker in blob:
                result.add(
                    "marker", log.key, f"log {log.id} ({log.action}) holds {marker!r}: {blob[:160]}"
                )
        if log.pk is None:
            result.add("shape", log.key, f"log {log.id} ({log.action}) has no entity_pk")
        groups[log.key].append(log)

    for key, group in groups.items():
        _replay(result, key, group, final.get(key), schemas[key[0]])
    for key in final:
        if key[0] in schemas and key not in groups:
            result.add("missing", key, "the row exists but has no log at all")
    result.objects = len(set(groups) | {k for k in final if k[0] in schemas})

    if expected_events is not None:
        skip = set(exempt)
        for key in sorted(set(groups) | set(expected_events)):
            if key in skip:
                continue
            found = [event_of(log) for log in groups.get(key, [])]
            wanted = list(expected_events.get(key, []))
            if found != wanted:
                result.add(
                    "count",
                    key,
                    f"expected {len(wanted)} logs {wanted}, found {len(found)} {found}"
                    f" (ids {[log.id for log in groups.get(key, [])]})",
                )
    if expected_names is not None:
        written = Counter(
            log.new.get("name")
            for group in groups.values()
            for log in group
            if log.action in ("create", "update") and isinstance(log.new, dict)
        )
        for name, count in expected_names.items():
            if count is not None and written[name] != count:
                kind = "lost" if written[name] < count else "count"
                result.add(
                    kind,
                    f"name {name!r}",
                    f"{count} committed write(s) set it, {written[name]} log(s) hold it",
                )
    return result


def _chain(result: Verification, key: Key, log: LogRecord, state: Mapping[str, Any]) -> None:
    """One ``chain`` violation if the log's old values are not what the
    logs before it left (one per log, naming every field that differs)."""
    broken = [
        f"{name}={_short(value, 60)} (the logs before it left {_short(state[name], 60)})"
        for name, value in (log.old or {}).items()
        if name in state and state[name] != value
    ]
    if broken:
        result.add("chain", key, f"log {log.id} {log.action}: old " + ", ".join(broken))


def _replay(
    result: Verification,
    key: Key,
    group: Sequence[LogRecord],
    row: Mapping[str, Any] | None,
    schema: Schema,
) -> None:
    """Replay one object's logs, adding what breaks."""
    fields = set(schema.fields)
    state: dict[str, Any] | None = None
    ended: LogRecord | None = None  # the delete that ended the last life
    for log in group:
        if log.action == "create":
            if state is not None:
                result.add("order", key, f"log {log.id}: a create while the object exists")
            if log.new is None or set(log.new) != fields or log.old is not None:
                result.add("shape", key, f"log {log.id} create: new_values {_short(log.new)}")
            state = {**(log.new or {}), **{name: [] for name in schema.m2m}}
            ended = None
            continue
        if log.action not in ("update", "delete"):
            result.add("shape", key, f"log {log.id}: unknown action {log.action!r}")
            continue
        if state is None:
            why = f"after the delete of log {ended.id}" if ended else "with no create before it"
            result.add("order", key, f"log {log.id} ({log.action}) {why}")
            state = {}  # go on from what this log says, to report later breaks too
        old = log.old or {}
        if log.action == "update":
            new = log.new or {}
            changed = log.changed or []
            if not changed or set(changed) != set(old) or set(changed) != set(new):
                result.add(
                    "shape",
                    key,
                    f"log {log.id} update: changed {changed}, old {_short(old)}, new {_short(new)}",
                )
            for name in changed:
                if name in old and name in new and old[name] == new[name]:
                    result.add("shape", key, f"log {log.id} update: {name} did not change")
            _chain(result, key, log, state)
            state.update(new)
        else:
            if set(old) != fields or log.new is not None:
                result.add("shape", key, f"log {log.id} delete: old_values {_short(log.old)}")
            _chain(result, key, log, state)
            state = None
            ended = log
    if row is None:
        if state is not None:
            last = group[-1]
            result.add(
                "missing",
                key,
                f"the row is gone but its last log ({last.id}) is a {last.action}, not a delete",
            )
        return
    if state is None:
        result.add("replay", key, "the row exists but its logs end with a delete")
        return
    diff = {
        name: (state.get(name, _ABSENT), value)
        for name, value in row.items()
        if state.get(name, _ABSENT) != value
    }
    if diff:
        shown = ", ".join(
            f"{name}: replayed {_short(a, 60)} != row {_short(b, 60)}"
            for name, (a, b) in diff.items()
        )
        result.add("replay", key, f"replaying {len(group)} logs: {shown}")


def check_model(
    result: Verification,
    expected: Mapping[Key, Mapping[str, Any]],
    final: Mapping[Key, Mapping[str, Any]],
    exempt: Iterable[Key] = (),
) -> None:
    """Compare the workload's model of what committed with the rows (a
    ``model`` violation: the database kept something else than the harness
    believes committed, whatever the logs say)."""
    skip = set(exempt)
    for key in sorted(set(expected) | set(final)):
        if key in skip:
            continue
        want, have = expected.get(key), final.get(key)
        if want != have:
            if want is None or have is None:
                message = f"expected {_short(want)}, the database has {_short(have)}"
            else:
                diff = {k: (want.get(k), have.get(k)) for k in want if want.get(k) != have.get(k)}
                message = f"expected != database: {_short(diff)}"
            result.add("model", key, message)


# =============================================================================
# Fault injection
# =============================================================================
class Fault:
    """Drop or corrupt the ``nth`` draft the store is asked to write while
    ``gate()`` is true (the sequential workload opens it only for writes that
    commit, so the fault always reaches the table)."""

    KINDS = ("drop", "corrupt")

    def __init__(self, kind: str, nth: int, gate: Callable[[], bool] = lambda: True) -> None:
        if kind not in self.KINDS:
            raise HarnessError(f"fault {kind!r}: use one of {self.KINDS}")
        self.kind = kind
        self.nth = nth
        self.gate = gate
        self.seen = 0
        self.hit: LogDraft | None = None
        self._lock = threading.Lock()

    def _apply(self, drafts: list[LogDraft]) -> list[LogDraft]:
        with self._lock:
            if self.hit is not None or not self.gate():
                return drafts
            for index, draft in enumerate(drafts):
                if self.kind == "corrupt" and not draft.old_values:
                    continue
                self.seen += 1
                if self.seen < self.nth:
                    continue
                self.hit = draft
                if self.kind == "drop":
                    return drafts[:index] + drafts[index + 1 :]
                assert draft.old_values is not None
                name = next(iter(draft.old_values))
                wrong = {**draft.old_values, name: "CORRUPTED"}
                drafts[index] = dataclasses.replace(draft, old_values=wrong)
                return drafts
            return drafts

    def wrap(self, write: Callable[[Sequence[LogDraft], str], None]) -> Callable[..., None]:
        def faulty_write(drafts: Sequence[LogDraft], using: str) -> None:
            write(self._apply(list(drafts)), using)

        return faulty_write

    def describe(self) -> str:
        if self.hit is None:
            return f"{self.kind}: no draft reached (nth={self.nth}, seen {self.seen})"
        draft = self.hit
        return (
            f"{self.kind} of draft #{self.nth}: {draft.action} {draft.computed_entity}"
            f"#{draft.entity_pk} old={_short(draft.old_values, 80)}"
        )


# =============================================================================
# The sequential workload and its model of what committed
# =============================================================================
#: Product's tracked fields in model order (the order of ``changed_fields``).
FIELDS = (
    "name",
    "sku",
    "price",
    "stock",
    "is_active",
    "metadata",
    "description",
    "internal_note",
    "category",
    "released_on",
    "published_at",
)
_ATTNAME = {"category": "category_id"}
_CENT = Decimal("0.01")


def expected_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Product values (by attname, as given to the model) as logs should hold
    them, converted independently of autoaudit's code."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = values[_ATTNAME.get(name, name)]
        if isinstance(value, Decimal):
            value = str(value.quantize(_CENT))
        elif isinstance(value, datetime.date):  # datetime included
            value = value.isoformat()
        out[name] = value
    return out


@dataclass
class Expected:
    """What the committed operations left: rows and logs, per key."""

    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)
    events: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    categories: list[int] = field(default_factory=list)

    def copy(self) -> Expected:
        return copy.deepcopy(self)

    def products(self) -> list[int]:
        return sorted(int(pk) for entity, pk in self.rows if entity == PRODUCT)

    def row(self, pk: int) -> dict[str, Any]:
        return self.rows[(PRODUCT, str(pk))]

    def change(self, pk: int, after: dict[str, Any]) -> None:
        """Record ``after`` as product ``pk``'s row, with an update event if
        a tracked field changed."""
        key = (PRODUCT, str(pk))
        before = self.rows[key]
        changed = [name for name in FIELDS if before[name] != after[name]]
        if changed:
            self.events[key].append("update:" + ",".join(changed))
        self.rows[key] = {**after, "tags": before["tags"]}

    def create(self, pk: int, values: Mapping[str, Any]) -> None:
        key = (PRODUCT, str(pk))
        if key in self.rows or key in self.events:
            raise HarnessError(f"product {pk} created twice")
        self.rows[key] = {**expected_json(values), "tags": []}
        self.events[key].append("create")

    def delete(self, pk: int) -> None:
        key = (PRODUCT, str(pk))
        del self.rows[key]
        self.events[key].append("delete")

    def link(self, pk: int, tags: Iterable[int]) -> None:
        """Product ``pk``'s tags become ``tags`` (one M2M log if they changed)."""
        key = (PRODUCT, str(pk))
        new = sorted(set(tags))
        if new != self.rows[key]["tags"]:
            self.rows[key]["tags"] = new
            self.events[key].append("update:tags")

    def tags_of(self, pk: int) -> set[int]:
        return set(self.row(pk)["tags"])


class Sequential:
    """Randomized single-threaded operations with a model of what committed."""

    MODES = {
        "autocommit": 34,
        "atomic": 18,
        "rollback": 12,
        "savepoint": 14,
        "rejected": 14,
        "rejected_at_commit": 8,
    }

    def __init__(self, seed: int = 12, operations: int = 500) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.target = operations
        self.model = Expected()
        self.counter = 0
        self.ops: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.tags: list[int] = []
        #: True while an operation whose writes commit runs (:class:`Fault`'s gate).
        self.committing = False
        self.OPS: dict[str, tuple[int, Callable[[Expected, str | None], None]]] = {
            "create": (13, self.op_create),
            "update": (20, self.op_update),
            "noop": (8, self.op_noop),
            "delete": (5, self.op_delete),
            "qs_update": (10, self.op_qs_update),
            "bulk_create": (6, self.op_bulk_create),
            "bulk_update": (8, self.op_bulk_update),
            "qs_delete": (4, self.op_qs_delete),
            "m2m": (12, self.op_m2m),
            "m2m_reverse": (9, self.op_m2m_reverse),
            "cascade": (2, self.op_cascade),
        }

    # -- driving ----------------------------------------------------------------
    def setup(self) -> None:
        for i in range(4):
            self.model.categories.append(Category.objects.create(name=f"cat{i}").pk)
        for i in range(6):
            tag = Tag.objects.create(name=f"tag{i}")
            self.tags.append(tag.pk)
            key = (TAG, str(tag.pk))
            self.model.rows[key] = {"name": tag.name}
            self.model.events[key].append("create")
        for _ in range(12):
            self._run(self.op_create, self.model, None, commits=True)

    def run(self) -> Sequential:
        self.setup()
        self.ops.clear()
        while sum(self.ops.values()) < self.target:
            modes, weights = zip(*self.MODES.items(), strict=True)
            mode = self.rng.choices(modes, weights)[0]
            self.modes[mode] += 1
            getattr(self, f"mode_{mode}")()
        self.committing = False
        return self

    def _pick_op(self) -> Callable[[Expected, str | None], None]:
        names, entries = zip(*self.OPS.items(), strict=True)
        name = self.rng.choices(names, [weight for weight, _ in entries])[0]
        return self.OPS[name][1]

    def _run(
        self,
        op: Callable[[Expected, str | None], None],
        work: Expected,
        mark: str | None,
        *,
        commits: bool,
    ) -> None:
        self.ops[op.__name__.removeprefix("op_")] += 1
        self.committing = commits
        try:
            op(work, mark)
        finally:
            self.committing = False

    def _mark(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def mode_autocommit(self) -> None:
        self._run(self._pick_op(), self.model, None, commits=True)

    def mode_atomic(self) -> None:
        work = self.model.copy()
        with transaction.atomic():
            for _ in range(self.rng.randint(1, 3)):
                self._run(self._pick_op(), work, None, commits=True)
        self.model = work

    def mode_rollback(self) -> None:
        work = self.model.copy()
        with suppress(_Rollback), transaction.atomic():
            for _ in range(self.rng.randint(1, 3)):
                self._run(self._pick_op(), work, self._mark(ROLLED_BACK), commits=False)
            raise _Rollback

    def mode_savepoint(self) -> None:
        work = self.model.copy()
        with transaction.atomic():
            self._run(self._pick_op(), work, None, commits=True)
            inner = work.copy()
            with suppress(_Rollback), transaction.atomic():
                self._run(self._pick_op(), inner, self._mark(ROLLED_BACK), commits=False)
                raise _Rollback
            self._run(self._pick_op(), work, None, commits=True)
        self.model = work

    def mode_rejected(self) -> None:
        if self.rng.random() < 0.4:
            self.ops["rejected"] += 1
            self._rejected(self.model, self._mark(REJECTED), deferred_ok=True)
            return
        work = self.model.copy()
        with transaction.atomic():
            self._run(self._pick_op(), work, None, commits=True)
            self.ops["rejected"] += 1
            self._rejected(work, self._mark(REJECTED), deferred_ok=False)
            self._run(self._pick_op(), work, None, commits=True)
        self.model = work

    def mode_rejected_at_commit(self) -> None:
        """A block whose foreign key the database rejects, at the statement
        (MySQL) or at the commit (deferred constraints): nothing of it stays."""
        work = self.model.copy()
        mark = self._mark(REJECTED)
        self.ops["rejected"] += 1
        try:
            with transaction.atomic():
                self._run(self._pick_op(), work, mark, commits=False)
                self._deferred_violation(work, mark)
        except IntegrityError:
            return
        raise HarnessError(f"{mark}: a foreign key to a missing row was accepted")

    # -- values -------------------------------------------------------------------
    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _price(self) -> Decimal:
        return (Decimal(self.rng.randint(0, 99_999)) / 100).quantize(_CENT)

    def _metadata(self, n: int) -> dict[str, Any]:
        return self.rng.choice(
            [{}, {"v": n}, {"v": n, "list": [1, 2, n]}, {"nested": {"k": n, "ok": True}}]
        )

    def _date(self) -> datetime.date | None:
        if self.rng.random() < 0.3:
            return None
        return datetime.date(2024, 1, 1) + datetime.timedelta(days=self.rng.randint(0, 400))

    def _moment(self) -> datetime.datetime | None:
        if self.rng.random() < 0.3:
            return None
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
            seconds=self.rng.randint(0, 10**7)
        )

    def _values(self, work: Expected, mark: str | None, *, sku: bool = False) -> dict[str, Any]:
        n = self._next()
        with_sku = sku or self.rng.random() < 0.6
        return {
            "name": mark or f"p{n}",
            "sku": (f"{mark}-{n}" if mark else f"SKU-{n}") if with_sku else None,
            "price": self._price(),
            "stock": self.rng.randint(0, 500),
            "is_active": self.rng.random() < 0.8,
            "metadata": self._metadata(n),
            "description": self.rng.choice(["", f"d{n}"]),
            "internal_note": "",
            "category_id": self.rng.choice([None, *work.categories]),
            "released_on": self._date(),
            "published_at": self._moment(),
        }

    def _some(self, work: Expected) -> int | None:
        pks = work.products()
        return self.rng.choice(pks) if pks else None

    # -- operations -----------------------------------------------------------------
    def op_create(self, work: Expected, mark: str | None) -> None:
        values = self._values(work, mark)
        if self.rng.random() < 0.5:
            product = Product(**values)
            product.save()
        else:
            product = Product.objects.create(**values)
        work.create(product.pk, values)

    def _assign(self, product: Product, name: str, work: Expected, mark: str | None) -> Any:
        """Give ``product`` a new value of field ``name``; return its expected JSON."""
        n = self._next()
        if name == "name":
            product.name = mark or f"p{n}"
            return product.name
        if name == "sku":
            product.sku = (mark or f"SKU-{n}") if self.rng.random() < 0.7 else None
            return product.sku
        if name == "price":
            product.price = self._price()
            return str(product.price)
        if name == "stock":
            product.stock = self.rng.randint(0, 500)
            return product.stock
        if name == "stock_expr":
            delta = self.rng.randint(-5, 5)
            before = work.row(product.pk)["stock"]
            product.stock = F("stock") + delta
            return before + delta
        if name == "is_active":
            product.is_active = not product.is_active
            return product.is_active
        if name == "metadata":
            product.metadata = self._metadata(n)
            return product.metadata
        if name == "description":
            product.description = f"d{n}"
            return product.description
        if name == "category":
            product.category_id = self.rng.choice([None, *work.categories])
            return product.category_id
        if name == "released_on":
            product.released_on = self._date()
            return product.released_on.isoformat() if product.released_on else None
        if name == "published_at":
            product.published_at = self._moment()
            return product.published_at.isoformat() if product.published_at else None
        raise HarnessError(name)

    def op_update(self, work: Expected, mark: str | None) -> None:
        pk = self._some(work)
        if pk is None:
            return self.op_create(work, mark)
        product = Product.objects.get(pk=pk)
        names = self.rng.sample(
            [
                "name",
                "sku",
                "price",
                self.rng.choice(["stock", "stock_expr"]),
                "is_active",
                "metadata",
                "description",
                "category",
                "released_on",
                "published_at",
            ],
            self.rng.randint(1, 3),
        )
        if mark and "name" not in names:
            names.append("name")
        after = dict(work.row(pk))
        for name in names:
            after[name.removesuffix("_expr")] = self._assign(product, name, work, mark)
        if self.rng.random() < 0.25:
            fields = [name.removesuffix("_expr") for name in names]
            product.save(update_fields=fields)
        else:
            product.save()
        work.change(pk, after)

    def op_noop(self, work: Expected, mark: str | None) -> None:
        """A save that changes nothing tracked: no log."""
        pk = self._some(work)
        if pk is None:
            return self.op_create(work, mark)
        product = Product.objects.get(pk=pk)
        how = self.rng.choice(
            ["plain", "price_text", "price_normal", "json_copy", "f_zero", "some"]
        )
        if how == "price_text":
            product.price = str(product.price)
        elif how == "price_normal":
            product.price = product.price.normalize()
        elif how == "json_copy":
            product.metadata = json.loads(json.dumps(product.metadata))
        elif how == "f_zero":
            product.stock = F("stock") + 0
        if how == "some":
            product.save(update_fields=["name", "stock"])
        else:
            product.save()

    def op_delete(self, work: Expected, mark: str | None) -> None:
        pk = self._some(work)
        if pk is None:
            return
        Product.objects.get(pk=pk).delete()
        work.delete(pk)

    def op_qs_update(self, work: Expected, mark: str | None) -> None:
        pks = work.products()
        if not pks:
            return
        start = self.rng.randrange(len(pks))
        low = pks[start]
        high = pks[min(start + self.rng.randint(0, 5), len(pks) - 1)] + self.rng.randint(0, 2)
        affected = [pk for pk in pks if low <= pk <= high]
        n = self._next()
        kind = self.rng.choice(["stock", "price", "active", "name", "metadata", "category"])
        if mark:
            kind = "name"
        delta = self.rng.randint(-3, 3)
        kwargs: dict[str, Any]
        new: dict[str, Any]
        if kind == "stock":
            kwargs, new = {"stock": F("stock") + delta}, {}
        elif kind == "price":
            price = self._price()
            kwargs, new = {"price": price}, {"price": str(price)}
        elif kind == "active":
            active = self.rng.random() < 0.5
            kwargs, new = {"is_active": active}, {"is_active": active}
        elif kind == "name":
            name = mark or f"u{n}"
            kwargs, new = {"name": name}, {"name": name}
        elif kind == "metadata":
            metadata = {"bulk": n % 3}
            kwargs, new = {"metadata": metadata}, {"metadata": metadata}
        else:
            category = self.rng.choice([None, *work.categories])
            kwargs, new = {"category": category}, {"category": category}
        count = Product.objects.filter(pk__gte=low, pk__lte=high).update(**kwargs)
        if count != len(affected):
            raise HarnessError(f"update of {low}..{high}: {count} rows, expected {affected}")
        for pk in affected:
            row = work.row(pk)
            stock = {"stock": row["stock"] + delta} if kind == "stock" else {}
            work.change(pk, {**row, **new, **stock})

    def op_bulk_create(self, work: Expected, mark: str | None) -> None:
        batch = [self._values(work, mark, sku=True) for _ in range(self.rng.randint(1, 4))]
        products = [Product(**values) for values in batch]
        Product.objects.bulk_create(products)
        for product, values in zip(products, batch, strict=True):
            pk = product.pk if product.pk is not None else Product.objects.get(sku=values["sku"]).pk
            work.create(pk, values)

    def op_bulk_update(self, work: Expected, mark: str | None) -> None:
        pks = work.products()
        if len(pks) < 2:
            return self.op_create(work, mark)
        chosen = self.rng.sample(pks, self.rng.randint(2, min(4, len(pks))))
        fields = self.rng.sample(["name", "stock", "price", "is_active", "metadata"], 2)
        if mark and "name" not in fields:
            fields.append("name")
        products = list(Product.objects.filter(pk__in=chosen).order_by("pk"))
        for product in products:
            after = dict(work.row(product.pk))
            for name in fields:
                if name == "name" and mark:
                    product.name = mark
                    after["name"] = mark
                elif self.rng.random() < 0.7:
                    after[name] = self._assign(product, name, work, mark)
            work.change(product.pk, after)
        Product.objects.bulk_update(products, fields)

    def op_qs_delete(self, work: Expected, mark: str | None) -> None:
        pks = work.products()
        if not pks:
            return
        if self.rng.random() < 0.5:
            chosen = self.rng.sample(pks, self.rng.randint(1, min(3, len(pks))))
            Product.objects.filter(pk__in=chosen).delete()
        else:
            start = self.rng.randrange(len(pks))
            low, high = pks[start], pks[min(start + self.rng.randint(0, 2), len(pks) - 1)]
            chosen = [pk for pk in pks if low <= pk <= high]
            Product.objects.filter(pk__gte=low, pk__lte=high).delete()
        for pk in chosen:
            work.delete(pk)

    def op_m2m(self, work: Expected, mark: str | None) -> None:
        """``product.tags.add/remove/set/clear``, by objects or by pks."""
        pk = self._some(work)
        if pk is None:
            return self.op_create(work, mark)
        product = Product.objects.get(pk=pk)
        before = work.tags_of(pk)
        chosen = self.rng.sample(self.tags, self.rng.randint(0, 3))
        args: list[Any] = (
            chosen if self.rng.random() < 0.5 else list(Tag.objects.filter(pk__in=chosen))
        )
        how = self.rng.choice(["add", "add", "remove", "set", "clear"])
        if how == "add":
            product.tags.add(*args)
            work.link(pk, before | set(chosen))
        elif how == "remove":
            product.tags.remove(*args)
            work.link(pk, before - set(chosen))
        elif how == "set":
            product.tags.set(args)  # Django removes what goes, then adds what comes
            work.link(pk, before & set(chosen))
            work.link(pk, set(chosen))
        else:
            product.tags.clear()
            work.link(pk, set())

    def op_m2m_reverse(self, work: Expected, mark: str | None) -> None:
        """``tag.products.add/remove/set/clear``: one log per product changed."""
        tag = Tag.objects.get(pk=self.rng.choice(self.tags))
        pks = work.products()
        linked = {pk for pk in pks if tag.pk in work.tags_of(pk)}
        chosen = set(self.rng.sample(pks, self.rng.randint(0, min(3, len(pks)))))
        how = self.rng.choice(["add", "add", "remove", "set", "clear"])
        if how == "add":
            tag.products.add(*chosen)
            gain, lose = chosen - linked, set()
        elif how == "remove":
            tag.products.remove(*Product.objects.filter(pk__in=chosen))
            gain, lose = set(), chosen & linked
        elif how == "set":
            tag.products.set(list(chosen))
            gain, lose = chosen - linked, linked - chosen
        else:
            tag.products.clear()
            gain, lose = set(), linked
        for pk in sorted(lose):
            work.link(pk, work.tags_of(pk) - {tag.pk})
        for pk in sorted(gain):
            work.link(pk, work.tags_of(pk) | {tag.pk})

    def op_cascade(self, work: Expected, mark: str | None) -> None:
        """Delete a category: its products go with it (Django's cascade)."""
        category = self.rng.choice(work.categories)
        gone = [pk for pk in work.products() if work.row(pk)["category"] == category]
        Category.objects.get(pk=category).delete()
        for pk in gone:
            work.delete(pk)
        work.categories.remove(category)
        work.categories.append(Category.objects.create(name=f"cat{self._next()}").pk)

    # -- rejected operations --------------------------------------------------------
    @contextmanager
    def _rejection(self, what: str, *, savepoint: bool) -> Iterator[None]:
        try:
            if savepoint:
                with transaction.atomic():
                    yield
            else:
                yield
        except IntegrityError:
            return
        raise HarnessError(f"{what}: the database accepted it")

    def _rejected(self, work: Expected, mark: str, *, deferred_ok: bool) -> None:
        """An operation the database rejects at once (a duplicate ``sku``), in
        autocommit or, inside an atomic block, in its own savepoint; in
        autocommit also one rejected only at commit (a missing foreign key)."""
        owners = [pk for pk in work.products() if work.row(pk)["sku"] is not None]
        savepoint = not deferred_ok
        kinds = ["save", "create", "bulk_create", "qs_update", "bulk_update"]
        if deferred_ok:
            kinds += ["fk_save", "fk_m2m"]
        kind = self.rng.choice(kinds)
        pks = work.products()
        if not kind.startswith("fk_") and (not owners or len(pks) < 3):
            kind = self.rng.choice(["fk_save", "fk_m2m"]) if deferred_ok else "create_twice"
        if kind == "fk_m2m" and connection.vendor == "mysql":
            # Django's add() inserts links with INSERT IGNORE here, and MySQL
            # ignores a missing foreign key too: nothing is stored, no error,
            # so nothing may be logged either.
            pk = self._some(work)
            if pk is not None:
                Product.objects.get(pk=pk).tags.add(MISSING_PK)
            return
        what = f"{mark} ({kind})"
        taken = work.row(owners[0])["sku"] if owners else None
        others = [pk for pk in pks if not owners or pk != owners[0]]
        with self._rejection(what, savepoint=savepoint):
            if kind == "save":
                product = Product.objects.get(pk=self.rng.choice(others))
                product.name, product.sku = mark, taken
                product.save()
            elif kind == "create":
                Product.objects.create(**{**self._values(work, mark), "sku": taken})
            elif kind == "create_twice":
                Product.objects.bulk_create(
                    [Product(**{**self._values(work, mark), "sku": mark}) for _ in range(2)]
                )
            elif kind == "bulk_create":
                first = self._values(work, mark, sku=True)
                Product.objects.bulk_create(
                    [Product(**first), Product(**{**self._values(work, mark), "sku": taken})]
                )
            elif kind == "qs_update":
                Product.objects.filter(pk=self.rng.choice(others)).update(name=mark, sku=taken)
            elif kind == "bulk_update":
                products = list(Product.objects.filter(pk__in=self.rng.sample(others, 2)))
                for product in products:
                    product.name, product.sku = mark, mark
                Product.objects.bulk_update(products, ["name", "sku"])
            else:
                self._deferred_violation(work, mark, kind)

    def _deferred_violation(self, work: Expected, mark: str, kind: str | None = None) -> None:
        """A write to a missing foreign key: PostgreSQL and SQLite check it at
        commit, MySQL at once (the caller expects the ``IntegrityError``)."""
        pk = self._some(work)
        if pk is None:
            Product.objects.create(**{**self._values(work, mark), "category_id": MISSING_PK})
            return
        kinds = ["fk_save", "fk_qs_update"]
        if connection.vendor != "mysql":  # see _rejected()
            kinds.append("fk_m2m")
        kind = kind or self.rng.choice(kinds)
        if kind == "fk_save":
            product = Product.objects.get(pk=pk)
            product.name, product.category_id = mark, MISSING_PK
            product.save()
        elif kind == "fk_m2m":
            Product.objects.get(pk=pk).tags.add(MISSING_PK)
        else:
            Product.objects.filter(pk=pk).update(name=mark, category_id=MISSING_PK)


# =============================================================================
# The concurrent workload
# =============================================================================
def classify(exc: BaseException) -> str:
    """The kind of a database error that reached the caller."""
    text = str(exc).lower()
    if "deadlock" in text:
        return "deadlock"
    if "database is locked" in text or "database table is locked" in text:
        return "database is locked"
    if "could not serialize" in text or "serialization" in text:
        return "serialization failure"
    if "lock wait timeout" in text:
        return "lock wait timeout"
    if isinstance(exc, IntegrityError):
        if "foreign key" in text or "violates foreign key" in text:
            return "IntegrityError (foreign key)"
        return "IntegrityError (unique)"
    return f"{type(exc).__name__}: {text.splitlines()[0][:60] if text else ''}"


@dataclass
class ConcurrentResult:
    tracked: bool
    operations: int = 0
    vanished: int = 0  # the row an operation wanted was gone: skipped
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    names: dict[str, int | None] = field(default_factory=dict)
    keys: set[Key] = field(default_factory=set)
    seconds: float = 0.0

    def merge(self, other: ConcurrentResult) -> None:
        self.operations += other.operations
        self.vanished += other.vanished
        self.errors.update(other.errors)
        for kind, text in other.samples.items():
            self.samples.setdefault(kind, text)
        self.crashes += other.crashes
        self.names.update(other.names)


class _Writer:
    """One thread's operations on the shared rows."""

    def __init__(self, index: int, seed: int, products: list[int], tags: list[int]) -> None:
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.products = products
        self.tags = tags
        self.result = ConcurrentResult(tracked=True)
        self.name = ""

    def _nap(self) -> None:
        time.sleep(self.rng.uniform(0.002, 0.015))

    def _named(self, count: int | None) -> None:
        self.result.names[self.name] = count

    def save(self) -> None:
        product = Product.objects.get(pk=self.rng.choice(self.products))
        product.name = self.name
        if self.rng.random() < 0.5:
            product.stock = self.rng.randint(0, 1000)
        if self.rng.random() < 0.5:
            with transaction.atomic():
                product.save()
                self._nap()
        else:
            product.save()
        self._named(1)

    def f_update(self) -> None:
        if self.rng.random() < 0.5:
            pk = self.rng.choice(self.products)
            Product.objects.filter(pk=pk).update(stock=F("stock") + self.rng.choice([1, -1, 2]))
        else:
            chosen = self.rng.sample(self.products, self.rng.randint(2, 3))
            count = Product.objects.filter(pk__in=chosen).update(
                stock=F("stock") - 1, name=self.name
            )
            self._named(count)

    def m2m(self) -> None:
        pk = self.rng.choice(self.products)
        tag = self.rng.choice(self.tags)
        add = self.rng.random() < 0.55
        slow = self.rng.random() < 0.4
        with transaction.atomic() if slow else _nothing():
            if self.rng.random() < 0.5:
                product = Product.objects.get(pk=pk)
                if add:
                    product.tags.add(tag)
                else:
                    product.tags.remove(tag)
            else:
                found = Tag.objects.get(pk=tag)
                if add:
                    found.products.add(pk)
                else:
                    found.products.remove(pk)
            if slow:
                self._nap()

    def delete(self) -> None:
        if self.rng.random() < 0.5:
            product = Product.objects.get(pk=self.rng.choice(self.products))
            self._nap()
            product.delete()
        else:
            chosen = self.rng.sample(self.products, self.rng.randint(1, 2))
            Product.objects.filter(pk__in=chosen).delete()

    def recreate(self) -> None:
        pk = self.rng.choice(self.products)
        if Product.objects.filter(pk=pk).exists():
            return self.save()
        Product.objects.create(pk=pk, name=self.name, stock=100)
        self._named(1)

    def rolled_back(self) -> None:
        self.name = f"{ROLLED_BACK}{self.name}"
        with suppress(_Rollback), transaction.atomic():
            product = Product.objects.get(pk=self.rng.choice(self.products))
            product.name = self.name
            product.save()
            product.tags.add(self.rng.choice(self.tags))
            self._nap()
            raise _Rollback

    def bulk_update(self) -> None:
        chosen = self.rng.sample(self.products, 2)
        products = list(Product.objects.filter(pk__in=chosen).order_by("pk"))
        names = []
        for number, product in enumerate(products):
            product.name = f"{self.name}.{number}"
            product.stock = self.rng.randint(0, 1000)
            names.append(product.name)
        count = Product.objects.bulk_update(products, ["name", "stock"])
        for name in names:
            # A row deleted since it was read is not updated: then unknown which.
            self.result.names[name] = 1 if count == len(products) else None

    OPS = {
        "save": 22,
        "f_update": 15,
        "m2m": 30,
        "delete": 7,
        "recreate": 10,
        "rolled_back": 6,
        "bulk_update": 4,
    }

    def run(self, operations: int, barrier: threading.Barrier, prefix: str) -> None:
        try:
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:  # covers the naps many times over
                    cursor.execute("PRAGMA busy_timeout = 10000")
            barrier.wait(timeout=60)
            names, weights = zip(*self.OPS.items(), strict=True)
            for number in range(operations):
                self.name = f"{prefix}{self.index}-{number}"
                op = self.rng.choices(names, weights)[0]
                self.result.operations += 1
                try:
                    getattr(self, op)()
                except ObjectDoesNotExist:
                    self.result.vanished += 1
                except DatabaseError as exc:
                    kind = classify(exc)
                    self.result.errors[kind] += 1
                    self.result.samples.setdefault(kind, f"{op}: {type(exc).__name__}: {exc}")
                    for name in (self.name, f"{self.name}.0", f"{self.name}.1"):
                        self.result.names[name] = 0  # rolled back: in no log
                except Exception as exc:
                    tail = traceback.format_exception(exc)[-3:]
                    self.result.crashes.append(f"{op}: {''.join(tail).strip()}")
        except Exception as exc:  # the barrier, or the connection itself
            self.result.crashes.append(f"thread {self.index}: {exc!r}")
        finally:
            connection.close()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def run_concurrent(
    *,
    seed: int = 12,
    threads: int = 5,
    operations: int = 150,
    products: int = 5,
    tags: int = 4,
    tracked: bool = True,
) -> ConcurrentResult:
    """Run ``threads`` writers of ``operations`` each on fresh shared rows."""
    prefix = "c" if tracked else "x"
    shared = [
        Product.objects.create(name=f"{prefix}shared{i}", stock=100).pk for i in range(products)
    ]
    shared_tags = [Tag.objects.create(name=f"{prefix}tag{i}").pk for i in range(tags)]
    writers = [_Writer(i, seed, shared, shared_tags) for i in range(threads)]
    barrier = threading.Barrier(threads)
    started = time.perf_counter()
    workers = [
        threading.Thread(target=w.run, args=(operations, barrier, prefix), name=f"writer-{i}")
        for i, w in enumerate(writers)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    result = ConcurrentResult(tracked=tracked, seconds=time.perf_counter() - started)
    for worker, writer in zip(workers, writers, strict=True):
        if worker.is_alive():
            result.crashes.append(f"{worker.name} still running after 300 s")
        result.merge(writer.result)
    result.keys = {(PRODUCT, str(pk)) for pk in shared} | {(TAG, str(pk)) for pk in shared_tags}
    return result


# =============================================================================
# The report
# =============================================================================
def summary(
    *,
    database: str,
    verification: Verification,
    sequential: Sequential,
    tracked: ConcurrentResult,
    untracked: ConcurrentResult | None,
    seconds: Mapping[str, float],
    fault: Fault | None = None,
    shown: int = 10,
) -> dict[str, Any]:
    """One JSON-ready line: what ran, what was written, what broke."""
    shared = {f"{entity}#{pk}" for entity, pk in tracked.keys}
    phases = Counter(
        "concurrent"
        if v.where in shared or v.where.startswith("name ") or v.kind == "crash"
        else "sequential"
        for v in verification.violations
    )
    return {
        "database": database,
        "seed": sequential.seed,
        "operations": {
            "sequential": sum(sequential.ops.values()),
            "concurrent_tracked": tracked.operations,
            "concurrent_untracked": untracked.operations if untracked else 0,
        },
        "logs": verification.logs,
        "objects": verification.objects,
        "violations": len(verification.violations),
        "chain_breaks": verification.chain_breaks,
        "violation_kinds": verification.kinds(),
        "violations_by_phase": {
            "sequential": phases["sequential"],
            "concurrent": phases["concurrent"],
        },
        "errors_surfaced": {
            "tracked": dict(sorted(tracked.errors.items())),
            "untracked": dict(sorted(untracked.errors.items())) if untracked else None,
        },
        "error_samples": {
            "tracked": {k: v[:160] for k, v in sorted(tracked.samples.items())},
            "untracked": {k: v[:160] for k, v in sorted(untracked.samples.items())}
            if untracked
            else None,
        },
        "vanished_rows_skipped": {
            "tracked": tracked.vanished,
            "untracked": untracked.vanished if untracked else None,
        },
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "fault": fault.describe() if fault else None,
        "first_violations": [str(v) for v in verification.violations[:shown]],
    }
