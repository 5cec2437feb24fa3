"""The one store: :class:`~autoaudit.tracking.record.LogDraft` objects in,
``INSERT`` statements out, honouring ``ON_ERROR``.

:func:`write` inserts drafts without reading ids back (every automatic log):
the ``INSERT`` is compiled once per database alias and executed with fresh
parameters, which still pass through each field's ``get_db_prep_save``. Many
drafts go in one statement: PostgreSQL gets one ``COPY ... FROM STDIN`` (for
1,000 rows it took 31 ms here, against 99 ms for psycopg's ``executemany``
and 164 ms for one multi-row ``INSERT``); SQLite and MySQL use
``executemany`` (one statement as far as Django's query log is concerned).
The ``COPY`` is logged like any other statement (``connection.queries``,
``CaptureQueriesContext``) and its errors are Django's ``DatabaseError``
classes; it does not pass through ``connection.execute_wrapper()`` hooks.

:func:`save` inserts one draft through the ORM and returns the saved
``ActivityLog`` (the manual helpers hand it back to their caller).

Every row passes :mod:`autoaudit.tracking.hooks` here, whichever path built
it: ``pre_log`` before it is written (a receiver may veto or change it),
``post_log`` and the ``SINKS`` once it is committed.

Where the drafts go is decided here too (:func:`defers`): with
``WRITE_MODE="transaction"`` and the log on the change's database, in the
change's transaction, as above; otherwise (``"on_commit"``, ``"task"``, or a
``DATABASE`` of its own) :mod:`autoaudit.tracking.deferred` holds them until
the change commits, then :func:`flush` inserts them in one statement, or
hands them to the task ``autoaudit.tasks.write_logs``, which calls
:func:`write_once` (idempotent: a retried task inserts nothing twice).

The log model is looked up in the app registry, not imported: the store sits
below ``autoaudit.models`` in the layers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.module_loading import import_string

from autoaudit.actors.scopes import is_disabled
from autoaudit.conf import get_settings
from autoaudit.tracking import deferred, hooks
from autoaudit.tracking.record import LogDraft
from autoaudit.tracking.rows import holds_write_lock

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


logger = logging.getLogger("autoaudit")

_insert_sql: dict[str, _Insert] = {}
#: Rows per idempotent INSERT (SQLite allows 32,766 parameters per statement).
_ONCE_BATCH = 500

#: Values these field types store as they are (``get_db_prep_save`` would
#: hand them back unchanged); anything else goes through the field.
_AS_IS = (models.CharField, models.TextField, models.IntegerField)
_PLAIN_TYPES = frozenset({str, int, type(None)})


def log_model() -> type[models.Model]:
    """``autoaudit.models.ActivityLog``, from the app registry.

    Looked up among every model loaded, not only the available apps: a test
    case with ``available_apps`` that leaves autoaudit out still writes logs
    (``apps.get_model`` would raise ``LookupError`` there).
    """
    model = apps.get_registered_model("autoaudit", "ActivityLog")
    return model


def clear() -> None:
    """Forget compiled statements (tests that swap databases call this)."""
    _insert_sql.clear()


class _Insert:
    """The compiled log ``INSERT`` of one database alias."""

    __slots__ = (
        "casts",
        "copy_sql",
        "fields",
        "head",
        "ignore_sql",
        "insert_head",
        "plain",
        "row_sql",
        "sources",
        "user_model",
    )
    user_model: type[models.Model]

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        meta = log_model()._meta
        self.fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        columns = ", ".join(quote(f.column or f.attname) for f in self.fields)
        self.insert_head = f"INSERT INTO {table} ({columns}) "
        self.head = f"{self.insert_head}VALUES "
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        self.row_sql = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        # Rows that may be in already (a retried task): the unique write_id
        # keeps the second copy out (INSERT IGNORE / OR IGNORE / ON CONFLICT).
        ops = connection.ops
        insert = ops.insert_statement(on_conflict=OnConflict.IGNORE)
        suffix = ops.on_conflict_suffix_sql(self.fields, OnConflict.IGNORE, None, None)
        self.ignore_sql = f"{insert} {table} ({columns}) VALUES {{rows}} {suffix}".rstrip()
        # Per field: does a plain str/int/None go to the driver as it is?
        self.plain = tuple(
            isinstance(f, _AS_IS) and not isinstance(f, models.ForeignKey) for f in self.fields
        )
        # Per field, the draft attribute it comes from (None: stamped now,
        # as the field's auto_now_add would).
        self.sources = tuple(
            None if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.name
            for f in self.fields
        )
        self.user_model = _user_model()
        # Per field, the type its parameter is cast to where it is selected
        # rather than inserted as VALUES (see with_row()).
        self.casts = tuple(_cast(f, connection) for f in self.fields)

    def params(self, draft: LogDraft, now: Any, connection: BaseDatabaseWrapper) -> list[Any]:
        """The row's parameters, as ``Model.save`` would prepare them."""
        row = []
        for field, plain, source in zip(self.fields, self.plain, self.sources, strict=True):
            if source is None:
                # auto_now_add: the draft's time (a deferred change's,
                # imported history's), or now
                value = draft.created_at or now
            elif source == "user":
                value = user_id(draft.user, self.user_model)
            else:
                value = getattr(draft, source)
            if not (plain and type(value) in _PLAIN_TYPES):
                value = field.get_db_prep_save(value, connection)
            row.append(value)
        return row


def _user_model() -> type[models.Model]:
    field = log_model()._meta.get_field("user")
    assert isinstance(field, models.ForeignKey)
    model: type[models.Model] = field.remote_field.model
    return model


def user_id(user: Any, user_model: type[models.Model]) -> Any:
    """The ``user`` column: the user's key when the FK can point at it.

    A user of another model (``AUTH_USER_MODEL`` swapped after the log table
    was made, as tests do) is named by the actor columns only.
    """
    if user is None or not isinstance(user, user_model):
        return None
    return user.pk


def _compiled(alias: str) -> _Insert:
    compiled = _insert_sql.get(alias)
    if compiled is None:
        compiled = _insert_sql[alias] = _Insert(connections[alias])
    return compiled


def _execute(drafts: Sequence[LogDraft], alias: str) -> None:
    connection = connections[alias]
    compiled = _compiled(alias)
    now = timezone.now()
    rows = [compiled.params(draft, now, connection) for draft in drafts]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(compiled.head + compiled.row_sql, rows[0])
        elif connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy"):
            _copy(connection, cursor, compiled.copy_sql, rows)  # psycopg 3 (not psycopg2)
        else:
            cursor.executemany(compiled.head + compiled.row_sql, rows)
    holds_write_lock(connection)  # a write of ours went through


def _copy(connection: BaseDatabaseWrapper, cursor: Any, sql: str, rows: list[list[Any]]) -> None:
    debug = getattr(cursor, "debug_sql", None)  # CursorDebugWrapper: log it
    logged = debug(sql, rows, many=True) if debug is not None else contextlib.nullcontext()
    with logged, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _cast(field: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> str | None:
    """The type a log column's parameter is cast to where it is selected, not
    inserted as ``VALUES`` (a literal there is text): none for text columns."""
    if isinstance(field, models.CharField | models.TextField):
        return None
    if isinstance(field, models.JSONField):
        return "jsonb"
    return field.db_type(connection)


def with_row(
    row_sql: str,
    row_params: list[Any],
    draft: LogDraft,
    alias: str,
    key: tuple[str, str] | None = None,
    *,
    when_changed: bool = False,
) -> tuple[str, list[Any]]:
    """Django's single-row ``INSERT`` or ``UPDATE`` and ``draft``'s log insert
    as one PostgreSQL statement (a data-modifying CTE) that returns what
    Django's statement returns (its ``RETURNING`` rows; for an ``UPDATE``
    without, one row per row changed, so the row count is Django's).

    ``key`` is ``(column, sentinel)`` for a row whose key the sequence gives:
    the draft was built with the ``sentinel`` number as the key, and every
    column holding it is computed from the key the ``INSERT`` returns
    (``entity_id`` is that key; in text and JSON columns the sentinel's
    digits are replaced by its digits). ``when_changed``: the log goes in
    only if the statement changed a row (a guarded ``UPDATE``).
    """
    approved = hooks.approve(draft, alias)  # pre_log
    if approved is None:
        return row_sql, list(row_params)  # vetoed: Django's statement alone
    draft = approved
    connection = connections[alias]
    compiled = _compiled(alias)
    row = compiled.params(draft, timezone.now(), connection)
    quote = connection.ops.quote_name
    ref = text = None
    if key is not None:
        column, text = key
        ref = f"(SELECT {quote(column)} FROM aa_row)"
    exprs: list[str] = []
    params = list(row_params)
    columns = zip(compiled.fields, row, compiled.sources, compiled.casts, strict=True)
    for field, value, source, cast in columns:
        raw = getattr(draft, source) if source not in (None, "user") else None
        if ref is not None and text is not None:
            if source == "entity_id" and raw == int(text):
                exprs.append(ref)
                continue
            if isinstance(field, models.JSONField) and raw is not None:
                dumped = json.dumps(raw)
                if text in dumped:
                    exprs.append(f"replace(%s, %s, {ref}::text)::jsonb")
                    params += [dumped, text]
                    continue
            elif isinstance(value, str) and text in value:
                exprs.append(f"replace(%s, %s, {ref}::text)")
                params += [value, text]
                continue
        exprs.append(f"CAST(%s AS {cast})" if cast and when_changed else "%s")
        params.append(value)
    if " RETURNING " not in row_sql:
        row_sql += " RETURNING 1"
    if when_changed:
        log = f"{compiled.insert_head}SELECT {', '.join(exprs)} FROM aa_row"
    else:
        log = f"{compiled.head}({', '.join(exprs)})"
    holds_write_lock(connection)
    return f"WITH aa_row AS ({row_sql}), aa_log AS ({log}) SELECT * FROM aa_row", params


def _report(draft: LogDraft, exc: BaseException) -> None:
    logger.error(
        "autoaudit could not write the %s log of %s %s: %s",
        draft.action,
        draft.computed_entity,
        draft.entity_pk,
        exc,
        exc_info=True,
    )


def log_database(using: str) -> str:
    """The alias the logs of a change on ``using`` go to (``DATABASE``)."""
    return get_settings().DATABASE or using


def defers(using: str) -> bool:
    """Whether the logs of a change on ``using`` are written after it commits
    (``WRITE_MODE`` other than ``"transaction"``, or a ``DATABASE`` elsewhere)
    rather than in its transaction. Where they are, no save or delete sends
    its log in Django's own statement (PostgreSQL's one statement per write)."""
    settings = get_settings()
    return settings.WRITE_MODE != "transaction" or log_database(using) != using


def _stamped(drafts: Sequence[LogDraft], *, keyed: bool) -> list[LogDraft]:
    """The drafts with ``created_at`` (now: when the change happens; a time
    a draft brings, imported history's, is kept) and, if ``keyed``, a
    ``write_id`` that makes a repeated insert a no-op."""
    now = timezone.now()
    return [
        dataclasses.replace(
            d,
            created_at=d.created_at or now,
            write_id=uuid.uuid4().hex if keyed else d.write_id,
        )
        for d in drafts
    ]


def _defer(drafts: Sequence[LogDraft], using: str) -> None:
    keyed = get_settings().WRITE_MODE == "task"
    deferred.defer(_stamped(drafts, keyed=keyed), using, log_database(using), flush)


def flush(drafts: Sequence[LogDraft], target: str) -> None:
    """Write the drafts of one committed transaction to ``target``: in one
    statement (``"on_commit"``, or ``DATABASE`` elsewhere), or as one
    ``autoaudit.tasks.write_logs`` task (``"task"``). Called by
    :mod:`~autoaudit.tracking.deferred` after the commit: a row that cannot
    be written is reported to the ``autoaudit`` logger, never raised."""
    settings = get_settings()
    if settings.WRITE_MODE == "task":
        task = import_string("autoaudit.tasks.write_logs")  # above this layer
        payload = [draft.as_json() for draft in drafts]
        task.using(backend=settings.TASK_BACKEND).enqueue(payload, target)
        return
    # One statement is atomic alone (one row, or PostgreSQL's COPY); SQLite's
    # and MySQL's executemany is several.
    one = len(drafts) == 1 or connections[target].vendor == "postgresql"
    try:
        with contextlib.nullcontext() if one else transaction.atomic(using=target):
            _execute(drafts, target)
    except (DatabaseError, ValueError, TypeError) as exc:
        if len(drafts) == 1:
            _report(drafts[0], exc)
            return
        written = []
        for draft in drafts:  # find the bad row; keep the others
            try:
                with transaction.atomic(using=target):
                    _execute([draft], target)
            except (DatabaseError, ValueError, TypeError) as row_exc:
                _report(draft, row_exc)
            else:
                written.append(draft)
        hooks.written(written, target)
        return
    hooks.written(drafts, target)  # post_log and sinks: now (autocommit)


def _user_stand_in(pk: Any, user_model: type[models.Model]) -> models.Model | None:
    """An unsaved user with key ``pk`` (the ``user`` column needs only the key)."""
    return None if pk is None else user_model(pk=pk)


def write_once(payload: Sequence[Mapping[str, Any]], using: str) -> int:
    """Insert the rows of ``payload`` (:meth:`LogDraft.as_json` dicts with a
    ``write_id``) on ``using``, in one statement, skipping those already
    there; returns how many the payload held. The body of the task
    ``autoaudit.tasks.write_logs``: a retry adds no duplicate rows."""
    if not payload:
        return 0
    user_model = _compiled(using).user_model
    drafts = [
        LogDraft.from_json(row, _user_stand_in(row.get("user_id"), user_model)) for row in payload
    ]
    missing = [d for d in drafts if not d.write_id or d.created_at is None]
    if missing:
        raise ValueError("every row of a write_logs task needs its write_id and created_at")
    connection = connections[using]
    compiled = _compiled(using)
    now = timezone.now()
    rows = [compiled.params(draft, now, connection) for draft in drafts]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for start in range(0, len(rows), _ONCE_BATCH):  # one statement per 500 rows
            chunk = rows[start : start + _ONCE_BATCH]
            sql = compiled.ignore_sql.format(rows=", ".join([compiled.row_sql] * len(chunk)))
            cursor.execute(sql, [value for row in chunk for value in row])
    hooks.written(drafts, using)
    return len(drafts)


def write(drafts: Sequence[LogDraft], using: str) -> None:
    """Insert ``drafts`` on ``using`` (the database of the change they record).

    With ``ON_ERROR="raise"`` a failure propagates, so the surrounding change
    rolls back with it. With ``"log"`` each row goes in its own savepoint: a
    failure is reported to the ``autoaudit`` logger and the change goes on.
    Callers check ``autoaudit.disabled()`` where a write starts (nothing
    is even assembled inside it).

    Where :func:`defers` says so, the drafts are stamped with the time of
    the change and wait for the commit instead (see :func:`flush`).
    """
    drafts = hooks.approved(drafts, using)  # pre_log
    if not drafts:
        return
    settings = get_settings()
    if defers(using):
        _defer(drafts, using)
        return
    if settings.SINKS:
        drafts = _stamped(drafts, keyed=False)  # sinks are told when
    if settings.ON_ERROR == "raise":
        _execute(drafts, using)
        hooks.written(drafts, using)  # post_log and sinks, on commit
        return
    written = []
    for draft in drafts:
        try:
            with transaction.atomic(using=using):
                _execute([draft], using)
        except (DatabaseError, ValueError, TypeError) as exc:
            _report(draft, exc)
        else:
            written.append(draft)
    hooks.written(written, using)  # post_log and sinks, on commit


def unsaved(draft: LogDraft) -> models.Model:
    """The draft as an unsaved ``ActivityLog`` (the manual helpers return one
    even when nothing is written)."""
    columns = draft.columns()
    user = columns.pop("user")
    log = log_model()(**columns)
    if user_id(user, _user_model()) is not None:
        log.user = user  # type: ignore[attr-defined]
    return log


def save(draft: LogDraft, using: str | None = None) -> models.Model | None:
    """Insert one draft through the ORM and return the saved row (with its id).

    ``using`` defaults to the router's database for the log model. ``None``
    is returned when nothing was written (``disabled()``, or an error under
    ``ON_ERROR="log"``). Where :func:`defers` says so, the row is written
    after the commit (:func:`write`) and returned unsaved (no id yet).
    """
    if is_disabled():
        return None
    alias = using or router.db_for_write(log_model())
    approved = hooks.approve(draft, alias)  # pre_log
    if approved is None:
        return None
    if defers(alias):
        _defer([approved], alias)
        return unsaved(approved)
    if get_settings().SINKS:
        (approved,) = _stamped([approved], keyed=False)
    log = unsaved(approved)
    if get_settings().ON_ERROR == "raise":
        log.save(force_insert=True, using=alias)
    else:
        try:
            with transaction.atomic(using=alias):
                log.save(force_insert=True, using=alias)
        except (DatabaseError, ValueError, TypeError) as exc:
            _report(approved, exc)
            return None
    hooks.written([approved], alias)  # post_log, on commit
    return log
