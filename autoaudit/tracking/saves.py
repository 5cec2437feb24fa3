"""The log of one save: its draft, and on PostgreSQL the log that goes in
with Django's own ``INSERT`` or ``UPDATE``, as one statement.

:func:`save_draft` builds the create or update draft of a save (the
``post_save`` receiver calls it, and the combined paths below).

**One statement per tracked save (PostgreSQL).** Whether a save may combine
is decided before it starts (:func:`combines`); no transaction is opened for
it (``frame.begin`` opens one, if a fallback needs it). The first statement
Django's method sends then reaches an execute wrapper (:func:`_first`); any
statement of another shape begins the transaction first: the usual path.

- A create (:func:`insert`): when Django's ``INSERT`` reaches the cursor
  (its values are final then, ``pre_save`` receivers included) the draft is
  built and the statement becomes one data-modifying CTE::

      WITH aa_row AS (<Django's INSERT ... RETURNING "id">),
           aa_log AS (INSERT INTO "activity_logs" (...) VALUES (...))
      SELECT * FROM aa_row

  A key the sequence has not given yet is a sentinel number while the draft
  is built, replaced in SQL by the key the CTE returns (``entity_id``,
  ``entity_pk``, the name, the description). Where that cannot be proved
  exact (:func:`_named`, :func:`_combined`), the usual path.
- An update (:func:`update`): Django's ``UPDATE`` guarded by the old values
  ``pre_save`` read (:func:`_guard`), with the log in the same CTE; a guard
  that matches no row begins the transaction, reads again locked, and runs
  Django's own statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections, models
from django.db.models.fields import AutoFieldMixin

from autoaudit.conf import get_settings
from autoaudit.tracking import hooks, store
from autoaudit.tracking.guards import guarded
from autoaudit.tracking.record import LogDraft, assemble, instance_name, subject_secrets
from autoaudit.tracking.snapshot import (
    SaveFrame,
    after_save,
    compare,
    current_values,
    frame_of,
    missed_row,
    parent_part,
    read_again,
)
from autoaudit.values.keys import pk_is_set
from autoaudit.values.serialization import NAME_LENGTH

#: Stand-ins for a key the sequence has not given yet: two, so that a name
#: showing the key in another form (``f"{pk:x}"``) is caught.
_SENTINELS = (8_146_395_028_731_946_201, 7_305_118_642_905_337_419)


def save_draft(
    frame: SaveFrame, created: bool, using: str, name: str | None = None, pk: Any = None
) -> LogDraft | None:
    """The create or update draft of the save ``frame`` holds (``None``: nothing to log)."""
    instance, tracker, snap = frame.instance, frame.tracker, frame.snapshot
    subject = parent_part(tracker, instance)
    if frame.as_parent:
        created = snap is None  # the parent's row: Django inserts it if it found none
    if created:
        if "create" not in tracker.actions:
            return None
        new = current_values(tracker.fields, instance)
        keyed = {} if pk is None else {"pk": pk}
        return assemble("create", instance=subject, tracker=tracker, new=new, name=name, **keyed)
    if "update" not in tracker.actions:
        return None
    if snap is None and frame.missed:
        snap = missed_row(frame, using)  # Django updated a row the read did not find
    if snap is None:
        return None
    change = compare(snap.fields, snap.values, after_save(snap, instance))
    if change is None:
        return None
    old, new, changed = change
    return assemble("update", instance=subject, tracker=tracker, old=old, new=new, changed=changed)


# -- one statement per save (PostgreSQL) ------------------------------------------------
def combines(frame: SaveFrame, using: str, given: Mapping[str, Any]) -> bool:
    """Whether this save's log can go in with Django's own statement: on
    PostgreSQL, with ``ON_ERROR="raise"``, for a model without multi-table
    parents; a create Django inserts without trying an ``UPDATE`` first (its
    key is not set, or has a default), or an update of a row with a key."""
    instance, tracker = frame.instance, frame.tracker
    if connections[using].vendor != "postgresql" or given.get("raw"):
        return False
    if frame.as_parent or (frame.force_insert and not instance._state.adding):
        return False
    concrete = tracker.model._meta.concrete_model or tracker.model
    if concrete._meta.parents or tracker.options.description is not None:
        return False
    if len(concrete._meta.pk_fields) > 1:
        return False  # a composite key: not one column to guard or return
    if get_settings().ON_ERROR != "raise":
        return False
    if store.defers(using):
        return False  # the log is written after the commit, not in the statement
    if not hooks.combinable(tracker.model, pk_is_set(instance)):
        return False  # pre_log/post_log receivers (see hooks.combinable)
    pk = concrete._meta.pk
    if not instance._state.adding:
        # An update (an UPDATE first, an INSERT if it finds no row).
        if "update" not in tracker.actions or "create" not in tracker.actions:
            return False
        if type(instance)._meta.select_on_save or concrete._meta.select_on_save:
            return False  # Django reads first (a proxy may ask for it)
        return pk_is_set(instance)
    if "create" not in tracker.actions or frame.force_update:
        return False
    if given.get("update_fields") is not None:
        return False
    # A key the caller chose: Django tries an UPDATE first.
    return not pk_is_set(instance) or pk.has_default() or pk.has_db_default()


def _named(frame: SaveFrame, using: str, sentinel: int | None) -> LogDraft | None:
    """The create draft, with ``sentinel`` as the key if one is given;
    ``None`` if the name cannot be rebuilt from it in SQL.

    The names are built on copies of the instance (a ``cached_property``
    of ``__str__`` keeps what it saw there), each with one of two
    sentinels: the name must differ only where ``str()`` of the key stands.
    A name that shows the key takes the usual path when a secret of the
    instance has a digit in it: the key put in by SQL could complete it,
    after the name was scrubbed.
    """
    if sentinel is None:
        return save_draft(frame, True, using)
    instance, tracker = frame.instance, frame.tracker
    names = []
    for number in _SENTINELS:
        # A copy as pickling makes it, without the app registry lookup of
        # copy.copy() (a model of an app not installed has none).
        stand_in = type(instance).__new__(type(instance))
        stand_in.__dict__.update(instance.__getstate__())
        stand_in.pk = number
        names.append(instance_name(tracker, stand_in, number))
    first, second = names
    text, other = (str(n) for n in _SENTINELS)
    if first.replace(text, other) != second or len(first) >= NAME_LENGTH:
        return None
    if first != second and any(
        any(c.isdigit() for c in secret) for secret in subject_secrets(tracker, instance)
    ):
        return None
    return save_draft(frame, True, using, name=first, pk=sentinel)


def _combined(
    frame: SaveFrame, compiler: Any, sql: str, params: Any
) -> tuple[str, list[Any]] | None:
    """Django's ``INSERT`` (``sql``, ``params``) and the create log, as one
    statement; ``None`` to fall back."""
    instance, tracker = frame.instance, frame.tracker
    meta = (tracker.model._meta.concrete_model or tracker.model)._meta
    returning = list(compiler.returning_fields or ())
    if any(not f.primary_key for f in returning):
        return None  # a value the database fills in (the name may show it too)
    key: tuple[str, str] | None = None
    sentinel = None
    if not pk_is_set(instance):
        pk = meta.pk
        if pk not in returning or not isinstance(pk, AutoFieldMixin):
            return None
        sentinel = _SENTINELS[0]
        key = (pk.column, str(sentinel))
    draft = _named(frame, compiler.using, sentinel)
    if draft is None:
        return None
    return store.with_row(sql, list(params or ()), draft, compiler.using, key)


def insert(
    frame: SaveFrame, compiler: Any, original: Callable[..., Any], returning_fields: Any
) -> Any:
    """Run Django's ``INSERT`` of ``frame``'s instance with its create log in
    the same statement (or, falling back, in the write transaction begun now)."""
    begin = frame.begin
    assert begin is not None  # combining_frame() checked

    def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        combined = _combined(frame, compiler, sql, params)
        if combined is None:
            begin()  # the usual path: post_save logs in this transaction
            return execute(sql, params, many, context)
        frame.done = True
        return execute(combined[0], combined[1], many, context)

    with compiler.connection.execute_wrapper(_first("INSERT ", statement, begin)):
        return original(compiler, returning_fields)


def _first(verb: str, handle: Callable[..., Any], begin: Callable[[], None]) -> Callable[..., Any]:
    """An execute wrapper for the first statement Django's method sends: one
    starting with ``verb`` goes to ``handle``; any other (a query of a
    field's ``pre_save()``, a statement an outer wrapper rewrote) makes the
    save take the usual path: the write transaction is begun before it.
    Statements after it (or run by ``handle`` itself) go straight on."""
    handled = False

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal handled
        if handled:
            return execute(sql, params, many, context)
        handled = True
        if many or not sql.startswith(verb):
            begin()
            return execute(sql, params, many, context)
        return handle(execute, sql, params, many, context)

    return wrapper


# -- one statement per update (PostgreSQL) ----------------------------------------------
def _guard(
    frame: SaveFrame, sql: str, params: Any, connection: Any
) -> tuple[str, list[Any]] | None:
    """Django's ``UPDATE ... WHERE pk = %s`` of the save, changing the row only
    if its tracked columns still hold the old values (:mod:`.guards`)."""
    snap = frame.snapshot
    assert snap is not None
    return guarded(sql, params, frame.tracker.model, snap.fields, snap.values, connection)


def update(
    frame: SaveFrame,
    instance: models.Model,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run Django's ``_do_update()`` of ``frame``'s save with its update log in
    the same statement as Django's ``UPDATE``.

    The ``UPDATE`` is guarded by the old values ``pre_save`` read (without a
    lock: no transaction is open), so it changes the row only if no one
    changed it since, and the log it carries is then exact. A save that
    changes nothing tracked is the guarded ``UPDATE`` alone. If the guard
    finds no row (a concurrent change, or the row is gone), nothing was
    written: the write transaction is begun, the old values read again,
    locked, and Django's own statement runs; ``post_save`` logs as usual.
    """
    begin = frame.begin
    assert begin is not None
    # Django's own arguments: (base_qs, using, pk_val, values, ...); the
    # instance's _state.db is set only after the save.
    alias = kwargs["using"] if "using" in kwargs else args[1]
    # Django 6: the fields its UPDATE returns (..., forced_update, returning_fields).
    returning = kwargs.get("returning_fields", args[6] if len(args) > 6 else None)

    def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        snap = frame.snapshot
        if snap is not None and not snap.fields:
            return execute(sql, params, many, context)  # nothing tracked is saved
        # A value saved from an expression, or one the database computes
        # (a GeneratedField Django 6 refreshes with RETURNING), is known
        # exactly only after the UPDATE: the usual path.
        exact = snap is not None and not snap.computed and not returning
        guarded = _guard(frame, sql, params, context["connection"]) if exact else None
        if guarded is None:
            begin()
            if snap is not None:
                frame.snapshot = read_again(frame, alias)
            return execute(sql, params, many, context)
        draft = save_draft(frame, False, alias)
        if draft is not None:
            guarded = store.with_row(*guarded, draft, alias, when_changed=True)
        result = execute(*guarded, many, context)
        if context["cursor"].rowcount > 0:
            frame.done = True
            return result
        begin()  # changed meanwhile, or gone: the usual path
        frame.snapshot = read_again(frame, alias)
        return execute(sql, params, many, context)

    connection = connections[alias]
    with connection.execute_wrapper(_first("UPDATE ", statement, begin)):
        return original(instance, *args, **kwargs)


def combining_frame(instance: models.Model) -> SaveFrame | None:
    """The open save of ``instance`` whose log goes in with Django's statement."""
    frame = frame_of(instance)
    if frame is None or frame.begin is None or frame.done:
        return None
    return frame


def inserting_frame(compiler: Any) -> SaveFrame | None:
    """The open save whose create goes in with this compiler's ``INSERT``."""
    objs = compiler.query.objs
    if len(objs) != 1 or compiler.query.on_conflict:
        return None
    return combining_frame(objs[0])
