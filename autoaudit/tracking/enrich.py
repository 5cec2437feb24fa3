"""A row's tags and related entity, from the model's register options.

:func:`~autoaudit.tracking.record.assemble` calls these once per row, on
every path. The options' callables are the project's code: one that raises
or returns something unusable follows ``ON_ERROR`` like a failing write:
under ``"raise"`` the error propagates (the change rolls back with it),
under ``"log"`` it is reported to the ``autoaudit`` logger and the row is
written without that column (NULL).

Cost: a ``related`` callable runs per row, also for the rows of a bulk
call. One that follows a foreign key (``lambda line: line.order``) costs
a query per row unless the object is cached; returning the label and key
(``lambda line: (Order, line.order_id)``) costs none.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from autoaudit.conf import get_settings
from autoaudit.tracking.registry import Tracker, entity_labels
from autoaudit.values.keys import pk_is_set, stored_pk
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import pk_text
from autoaudit.values.tags import clean_tags, merge_tags

logger = logging.getLogger("autoaudit")

#: ``(related_entity_type, related_entity_id)`` of a row with none.
NO_RELATED: tuple[None, None] = (None, None)


def _follow_on_error(exc: Exception, what: str) -> None:
    if get_settings().ON_ERROR == "raise":
        raise exc
    logger.warning("autoaudit: %s failed, the row is written without it: %s", what, exc)


def row_tags(
    tracker: Tracker | None, instance: models.Model | None, ambient: Any
) -> list[str] | None:
    """The ``tags`` column: the model's (``register(tags=...)``), then the
    ``context()``'s (``ambient``, checked when the context was made)."""
    option = tracker.options.tags if tracker is not None else ()
    own: Any = option
    if callable(option):
        own = ()
        if instance is not None:
            where = f"the tags of {tracker.computed_entity}"  # type: ignore[union-attr]
            try:
                own = clean_tags(option(instance) or (), where)
            except Exception as exc:
                _follow_on_error(exc, where)
    if not own and not ambient:
        return None
    return merge_tags(own, ambient or ())


def related_entity(
    tracker: Tracker | None, instance: models.Model | None
) -> tuple[str, str] | tuple[None, None]:
    """The ``related_entity_type`` and ``related_entity_id`` columns, from
    ``register(related=callable)``. The callable returns the instance the
    change belongs to, a ``(model or "app_label.Model", pk)`` pair, or
    ``None`` (both columns NULL)."""
    option = tracker.options.related if tracker is not None else None
    if option is None or instance is None:
        return NO_RELATED
    where = f"the related entity of {tracker.computed_entity}"  # type: ignore[union-attr]
    try:
        return related_columns(option(instance), where)
    except Exception as exc:
        _follow_on_error(exc, where)
        return NO_RELATED


def related_columns(target: Any, where: str = "related") -> tuple[str, str] | tuple[None, None]:
    """``target`` (an instance, a ``(model or label, pk)`` pair or ``None``)
    as the two columns; ``TypeError``/``ValueError`` for anything else."""
    if target is None:
        return NO_RELATED
    if isinstance(target, models.Model):
        if not pk_is_set(target):
            raise ValueError(f"{where}: {type(target).__name__} has no primary key yet.")
        model: type[models.Model] = type(target)
        pk = target.pk
    elif isinstance(target, tuple) and len(target) == 2:
        kind, pk = target
        if isinstance(kind, str):
            found = model_for_label(kind)
            if found is None:
                raise ValueError(f"{where}: {kind!r} is not an installed 'app_label.Model'.")
            model = found
        elif isinstance(kind, type) and issubclass(kind, models.Model):
            model = kind
        else:
            raise TypeError(f"{where}: {kind!r} is not a model or an 'app_label.Model' label.")
        if pk is None:
            return NO_RELATED
    else:
        raise TypeError(
            f"{where} must be a model instance, a (model, pk) pair or None, not {target!r}."
        )
    label = entity_labels(model)[1]
    text = pk_text(stored_pk(model, pk))
    if text is None or len(text) > 255 or len(label) > 100:
        raise ValueError(f"{where}: {label} {text!r} does not fit the related columns.")
    return label, text
