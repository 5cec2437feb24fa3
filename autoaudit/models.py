"""The one table, ``activity_logs``: one row per activity, for users, guests and the system."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Self, cast

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models.base import ModelState
from django.db.models.signals import ModelSignal, post_init, pre_init
from django.dispatch.dispatcher import NO_RECEIVERS
from django.utils.translation import gettext_lazy as _

from autoaudit.enums import ActionType, ActorType
from autoaudit.tracking import manual
from autoaudit.tracking.registry import entity_labels
from autoaudit.values.diff import changed_paths
from autoaudit.values.keys import pk_is_set, stored_pk
from autoaudit.values.labels import model_for_label
from autoaudit.values.serialization import pk_text
from autoaudit.versions import asof
from autoaudit.versions import revert as versions_revert

if TYPE_CHECKING:
    import datetime

    from django.contrib.auth.models import AbstractBaseUser

    from autoaudit.versions.revert import RevertPreview
    from autoaudit.versions.version import Version


#: The C scanner behind ``json.loads`` (an attribute the stubs do not declare).
_scan: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


class LogJSONField(models.JSONField):
    """``JSONField`` that decodes loaded values about three times faster.

    Reading history decodes five JSON columns per row; ``json.loads`` spends
    most of its time around the C scanner rather than in it. Values the fast
    path cannot take whole (surrounding whitespace, invalid JSON) go through
    Django's own ``from_db_value``. Migrations see a plain ``JSONField``.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if type(value) is str and self.decoder is None:
            try:
                decoded, end = _scan(value, 0)
            except (StopIteration, ValueError):
                pass
            else:
                if end == len(value):
                    return decoded
        return super().from_db_value(value, expression, connection)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


class ActivityLogQuerySet(models.QuerySet["ActivityLog"]):
    """Queries for reading history; each one is backed by an index."""

    def for_instance(self, instance: models.Model) -> ActivityLogQuerySet:
        """Logs of one object, newest first (integer, UUID, string and
        composite keys)."""
        if not pk_is_set(instance):
            return self.none()
        _entity, computed = entity_labels(type(instance))
        pk = stored_pk(type(instance), instance.pk)
        return self.filter(computed_entity=computed, entity_pk=pk_text(pk))

    def for_model(self, model: type[models.Model] | str) -> ActivityLogQuerySet:
        """Logs of every object of a model (a class or ``"app_label.Model"``)."""
        if isinstance(model, str):
            resolved = model_for_label(model)
            if resolved is None:
                return self.filter(computed_entity=model)
            model = resolved
        return self.filter(computed_entity=entity_labels(model)[1])

    def for_actor(self, actor: AbstractBaseUser | str) -> ActivityLogQuerySet:
        """A user's logs (by the FK) or an actor's logs by ``actor_identifier``."""
        if isinstance(actor, str):
            return self.filter(actor_identifier=actor)
        return self.filter(user_id=actor.pk)

    def users(self) -> ActivityLogQuerySet:
        """Logs whose actor is an authenticated user."""
        return self.filter(actor_type=ActorType.USER)

    def guests(self) -> ActivityLogQuerySet:
        """Logs whose actor is an anonymous visitor."""
        return self.filter(actor_type=ActorType.GUEST)

    def system(self) -> ActivityLogQuerySet:
        """Logs written outside any request (commands, tasks, shell)."""
        return self.filter(actor_type=ActorType.SYSTEM)

    def as_of(self, when: datetime.datetime) -> Version | None:
        """The object these logs are about as they say it was at ``when``
        (``for_instance(obj).as_of(when)``; see :func:`autoaudit.as_of`).
        ``None`` if it did not exist then; ``ValueError`` if the logs are
        of more than one object."""
        return asof.as_of_logs(self, when)


class ActivityLog(models.Model):
    """One recorded activity: who did what to which object, and what changed."""

    # Actor information (user, guest or system)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activity_logs",
        # Indexed by idx_actlog_user_time, whose leading column is user_id.
        db_index=False,
        # No constraint: logs may live in another database than the users
        # (a change on a second database logs there), and a log outlives
        # nothing it does not own.
        db_constraint=False,
        verbose_name=_("user"),
    )
    actor_type = models.CharField(
        _("actor type"),
        max_length=6,
        choices=ActorType.choices,
        default=ActorType.USER,
    )
    actor_identifier = models.CharField(
        _("actor identifier"), max_length=255, null=True, blank=True
    )
    actor_name = models.CharField(_("actor name"), max_length=255, null=True, blank=True)
    actor_metadata = LogJSONField(_("actor metadata"), null=True, blank=True)

    # Activity information
    action = models.CharField(_("action"), max_length=12, choices=ActionType.choices)
    entity = models.CharField(_("entity"), max_length=50)
    computed_entity = models.CharField(_("computed entity"), max_length=100)
    entity_id = models.BigIntegerField(_("entity id"), null=True, blank=True)
    entity_pk = models.CharField(_("entity primary key"), max_length=255, null=True, blank=True)
    entity_name = models.CharField(_("entity name"), max_length=255, null=True, blank=True)

    # Change details
    old_values = LogJSONField(_("old values"), null=True, blank=True)
    new_values = LogJSONField(_("new values"), null=True, blank=True)
    changed_fields = LogJSONField(_("changed fields"), null=True, blank=True)

    # Metadata
    description = models.TextField(_("description"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.TextField(_("user agent"), null=True, blank=True)
    extra_data = LogJSONField(
        _("extra data"),
        null=True,
        blank=True,
        help_text=_(
            "Flexible storage for additional context, metadata, or application-specific data"
        ),
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Wave 2: grouping, tags, the entity a change belongs to, a summary.
    request_id = models.CharField(_("request id"), max_length=64, null=True, blank=True)
    tags = LogJSONField(_("tags"), null=True, blank=True)
    related_entity_type = models.CharField(
        _("related entity type"), max_length=100, null=True, blank=True
    )
    related_entity_id = models.CharField(
        _("related entity id"), max_length=255, null=True, blank=True
    )
    changes_summary = models.CharField(_("changes summary"), max_length=255, null=True, blank=True)

    #: Every ``ActivityLogQuerySet`` method, on the manager too.
    objects = ActivityLogQuerySet.as_manager()

    class Meta:
        db_table = "activity_logs"
        ordering = ["-created_at", "-id"]
        verbose_name = _("activity log")
        verbose_name_plural = _("activity logs")
        get_latest_by = "created_at"
        # The seven named indexes ("MySQL-safe": none of them is the
        # FK's own index), plus two the readers need.
        indexes = [
            models.Index(fields=["-created_at"], name="idx_actlog_created_at"),
            models.Index(fields=["actor_type", "-created_at"], name="idx_actlog_type_time"),
            models.Index(fields=["entity", "entity_id"], name="idx_actlog_entity"),
            models.Index(fields=["computed_entity", "entity_id"], name="idx_actlog_comp_ent"),
            models.Index(fields=["action", "-created_at"], name="idx_actlog_action_time"),
            models.Index(fields=["actor_identifier"], name="idx_actlog_actor_id"),
            models.Index(fields=["entity", "-created_at"], name="idx_actlog_ent_time"),
            # History of one object (for_instance): any primary key type.
            # Its last column matches the ordering's tie-break, so the newest
            # N come straight off the index: no sort, N heap reads.
            models.Index(
                fields=["computed_entity", "entity_pk", "-created_at", "-id"],
                name="idx_actlog_comp_pk_time",
            ),
            # A user's own activity, newest first; also serves the FK.
            models.Index(fields=["user", "-created_at"], name="idx_actlog_user_time"),
            # Every log of one request, task or context(request_id=...).
            models.Index(fields=["request_id"], name="idx_actlog_request"),
            # Logs whose related entity is one object (related_to()).
            models.Index(
                fields=["related_entity_type", "related_entity_id", "-created_at"],
                name="idx_actlog_related_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_actor_display_name()} {self.action} {self.entity}"

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Collection[str],
        values: Collection[Any],
        *,
        fetch_mode: Any = None,
    ) -> Self:
        """Build a loaded row without ``Model.__init__``'s per-field ``setattr``.

        Reading history builds many rows at once, and ``__init__`` was the
        largest Python cost of it. A full row whose class has no ``pre_init``
        or ``post_init`` receivers goes straight into ``__dict__`` (what
        ``__init__`` ends up doing for these fields); anything else, such as
        ``only()``/``defer()`` rows, takes Django's own path.
        """
        attnames = _ATTNAMES.get(cls)
        if attnames is None and not cls._meta.abstract:
            attnames = _ATTNAMES[cls] = tuple(f.attname for f in cls._meta.concrete_fields)
        if (
            attnames is None
            or len(values) != len(attnames)
            or not _quiet(pre_init, cls)
            or not _quiet(post_init, cls)
        ):
            # Django < 6.1 has no fetch modes (and no such keyword).
            extra = {} if fetch_mode is None else {"fetch_mode": fetch_mode}
            return super().from_db(db, field_names, values, **extra)
        new = cls.__new__(cls)
        state = ModelState()
        state.adding = False
        state.db = db
        if fetch_mode is not None:
            state.fetch_mode = fetch_mode
        data = dict(zip(attnames, values, strict=True))
        data["_state"] = state
        new.__dict__ = data
        return new

    def get_actor_display_name(self) -> str:
        """Who did it, as a plain string, without a query per row.

        A user actor: the user's full name or username when the user is
        already loaded with the row (``select_related("user")``, as the
        timeline and the admin read it, or an instance given); else the
        ``actor_name`` stored when the log was written (the same name, as it
        was then). Only a user row with no stored name reads the user, and
        never from async code (where a query would raise
        ``SynchronousOnlyOperation``): there the identifier stands in.
        Otherwise ``actor_name``, else "System", "Deleted user" or
        "Anonymous Guest".
        """
        if self.actor_type == ActorType.USER and self.user_id is not None:
            user = None
            if ActivityLog.user.is_cached(self):
                user = self.user
            elif not self.actor_name and not _in_event_loop():
                try:
                    user = self.user  # one query, for a row written without a name
                except ObjectDoesNotExist:
                    user = None  # no constraint: the user may be gone, or elsewhere
            if user is not None:
                full_name = getattr(user, "get_full_name", None)
                name = full_name() if callable(full_name) else None
                return str(name or user.get_username())
            if not self.actor_name and self.actor_identifier:
                return self.actor_identifier
        if self.actor_name:
            return self.actor_name
        if self.actor_type == ActorType.SYSTEM:
            return str(_("System"))
        if self.actor_type == ActorType.USER:
            return str(_("Deleted user"))
        return str(_("Anonymous Guest"))

    def get_target_model_class(self) -> type[models.Model] | None:
        """The model class named by ``computed_entity``, or ``None``."""
        return model_for_label(self.computed_entity)

    def get_target_instance(self) -> models.Model | None:
        """The object this log is about, or ``None`` if it (or its model) is gone."""
        model = self.get_target_model_class()
        pk: Any = self.entity_pk if self.entity_pk is not None else self.entity_id
        if model is None or pk is None:
            return None
        try:
            if len(model._meta.pk_fields) > 1:  # a composite key, stored as its JSON list
                pk = tuple(json.loads(str(pk)))
            return model._default_manager.get(pk=pk)
        except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
            return None

    def get_extra_value(self, key: str, default: Any = None) -> Any:
        """Read one key of ``extra_data``, tolerating a missing or non-dict value."""
        if not isinstance(self.extra_data, dict):
            return default
        return self.extra_data.get(key, default)

    def set_extra_value(self, key: str, value: Any) -> None:
        """Set one key of ``extra_data`` (call ``save()`` afterwards)."""
        if not isinstance(self.extra_data, dict):
            self.extra_data = {}
        self.extra_data[key] = value

    @property
    def changed_paths(self) -> list[str]:
        """Dotted paths of what changed, nested JSON keys included."""
        return changed_paths(self.old_values, self.new_values, self.changed_fields)

    def revert(self, force: bool = False) -> ActivityLog | None:
        """Undo the change this log records, as a new logged change.

        An update: the changed fields are set back to their old values; a
        create: the object is deleted; a delete: the object is recreated with
        the same primary key (and its many-to-many links, where logged). The
        revert is logged by the current actor with ``extra_data["reverts"]``
        set to this log's id, and that log is returned (``None`` only if it
        could not be read back, e.g. ``ON_ERROR="log"`` swallowed a failure).

        Raises :class:`autoaudit.RevertConflict` (naming the fields) if the
        object changed since in a field this log changed (a create: in any
        field), unless ``force=True``; :class:`autoaudit.RevertError` if the
        log does not hold the values needed (masked, excluded, cut to size),
        is not about a registered model, records an action that changes no
        data (``login``, ``view``...), or the object is gone (an update) or
        exists again (a delete).
        """
        return cast("ActivityLog | None", versions_revert.revert(self, force))

    def revert_preview(self) -> RevertPreview:
        """What :meth:`revert` would do, worked out without changing anything:
        the action it takes, each field's value now and after, and the fields
        that changed since (a conflict). Raises :class:`autoaudit.RevertError`
        where :meth:`revert` would, conflicts aside."""
        return versions_revert.preview(self)

    @classmethod
    def create_for_instance(cls, instance: models.Model, action: str, **kwargs: Any) -> ActivityLog:
        """Log an activity on ``instance``; actor fields come from the current
        context unless given, values go through masking and size limits."""
        # The tracking layer types rows as Model: it sits below this module.
        return cast(ActivityLog, manual.create_for_instance(instance, action, **kwargs))


#: Attnames of each ActivityLog class's concrete fields, in column order
#: (``from_db``'s fast path); filled on its first load.
_ATTNAMES: dict[type[models.Model], tuple[str, ...]] = {}


def _in_event_loop() -> bool:
    """Whether this thread runs an event loop (Django refuses queries there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _quiet(signal: ModelSignal, cls: type[models.Model]) -> bool:
    """Whether ``signal`` has no receivers for ``cls`` (the signal's own cache
    answers without a lookup once it has been asked)."""
    cache = getattr(signal, "sender_receivers_cache", None)
    if cache is not None and cache.get(cls) is NO_RECEIVERS:
        return True
    return not signal.has_listeners(cls)
