"""Which models are tracked, and everything about them worked out once.

Pure state: :class:`Registry` validates registrations and keeps, per model,
a :class:`Tracker` (tracked fields, masks, names). It wires nothing itself.
Whoever needs to act on a change (the signal receivers, the patches)
subscribes with :meth:`Registry.subscribe` and is handed the current routes
(sender model -> tracker) after every change; ``AppConfig.ready()`` does the
subscribing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar, overload

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from autoaudit.conf import ALL_MODELS, get_settings, hash_key
from autoaudit.tracking import accessor, selection
from autoaudit.tracking.options import GUEST_FIELD_KEYS, ModelOptions, normalise_options
from autoaudit.values.labels import model_label
from autoaudit.values.masking import MaskPolicy, strategy_for

M = TypeVar("M", bound=type[models.Model])

#: sender model -> the tracker its writes are logged with: its own, a proxy's
#: concrete model's, an unregistered multi-table child's nearest registered
#: ancestor's (see :meth:`Registry.route`).
Routes = Mapping[type[models.Model], "Tracker"]


def entity_labels(model: type[models.Model]) -> tuple[str, str]:
    """``(entity, computed_entity)`` for a model: registered overrides win."""
    # The tracker a model routes to decides: an unregistered proxy of a
    # tracked model logs (and is looked up) under the concrete model.
    tracker = registry.tracker_for(model)
    if tracker is not None:
        return tracker.entity, tracker.computed_entity
    return model._meta.model_name or model.__name__.lower(), model_label(model)


def inherit(declared: ModelOptions, inherited: Sequence[ModelOptions]) -> ModelOptions:
    """``declared`` with the masks and exclusions of the registered models it
    inherits from (``inherited``, nearest first): a mask of the model's own
    wins for its field, and an inherited exclusion is lifted only by the
    model's own ``include_fields``."""
    if not inherited:
        return declared
    masks: dict[str, str] = {}
    for options in reversed(inherited):  # farthest first: nearer ones win
        masks.update(options.mask_fields)
    masks.update(declared.mask_fields)
    included = set(declared.include_fields or ())
    excluded = [n for options in inherited for n in options.exclude_fields if n not in included]
    return dataclasses.replace(
        declared,
        mask_fields=MappingProxyType(masks),
        exclude_fields=tuple(dict.fromkeys((*declared.exclude_fields, *excluded))),
    )


class Tracker:
    """Per-model metadata computed at registration (and on settings change)."""

    def __init__(
        self,
        model: type[models.Model],
        options: ModelOptions,
        inherited: tuple[ModelOptions, ...] = (),
    ) -> None:
        self.model = model
        #: the options as registered, and those of the registered models it
        #: inherits from (MTI parents, a proxy's concrete model), nearest first
        self.declared = options
        self.inherited = inherited
        #: in effect: ``declared`` with the inherited masks and exclusions (compile())
        self.options = options
        self.entity = (options.entity or model._meta.model_name or "")[:50]
        self.computed_entity = model_label(model)[:100]
        self.verbose_name = model._meta.verbose_name
        self.fields: tuple[models.Field[Any, Any], ...] = ()
        #: ``(attname, field)`` of each tracked field, for the load snapshot
        self.attnames: tuple[tuple[str, models.Field[Any, Any]], ...] = ()
        self.masks: Mapping[str, str] = {}
        #: attnames of every concrete field whose value is secret (masked or
        #: excluded by a mask), tracked or not: scrubbed from names and texts.
        self.secret_attnames: tuple[str, ...] = ()
        self.policy = MaskPolicy({}, hash_key)
        self.m2m: tuple[models.ManyToManyField[Any, Any], ...] = ()
        self.actions = options.actions
        self.labels_cache: dict[str | None, dict[str, str]] = {}
        self.compile()

    def compile(self) -> None:
        """Resolve fields and masks; raise ``ImproperlyConfigured`` on bad names."""
        model, options, label = self.model, self.declared, self.computed_entity
        meta = model._meta

        def get(name: str, option: str) -> models.Field[Any, Any]:
            try:
                return meta.get_field(name)  # type: ignore[return-value]
            except FieldDoesNotExist:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): {option} names {name!r}, "
                    f"which is not a field of {label}."
                ) from None

        for option in ("include_fields", "exclude_fields"):
            for name in getattr(options, option) or ():
                get(name, option)
        accessor.check_name(model, label, options.accessor)
        for name in options.mask_fields:
            get(name, "mask_fields")
        m2m = []
        for name in options.m2m_fields:
            f = get(name, "m2m_fields")
            if not isinstance(f, models.ManyToManyField):
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): m2m_fields names {name!r}, "
                    "which is not a ManyToManyField."
                )
            m2m.append(f)
        for key, name in options.guest_fields.items():
            get(name, "guest_fields")
            if key not in GUEST_FIELD_KEYS:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): guest_fields has the key {key!r}; "
                    f"use {', '.join(sorted(GUEST_FIELD_KEYS))}."
                )

        options = self.options = inherit(options, self.inherited)  # names checked above
        included = set(options.include_fields) if options.include_fields is not None else None
        excluded = set(options.exclude_fields)
        global_masks = get_settings().MASK_FIELDS
        fields = []
        masks = {}
        secrets = []
        known: dict[str, str | None] = {}
        keys = set(meta.pk_fields)  # one field, or the parts of a composite key
        for f in meta.concrete_fields:
            is_key = f.primary_key or f in keys  # MTI children: their parents' keys too
            strategy = known[f.name] = strategy_for(f.name, options.mask_fields, global_masks)
            if strategy is not None and not is_key:
                secrets.append(f.attname)
            if is_key or f.name in excluded:
                continue
            if included is not None and f.name not in included:
                continue
            if included is None and (
                getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ):
                continue
            if strategy == "exclude":
                continue
            if strategy is not None:
                masks[f.name] = strategy
            fields.append(f)
        self.fields = tuple(fields)
        self.attnames = tuple((f.attname, f) for f in fields)
        self.labels_cache = {}
        self.masks = MappingProxyType(masks)
        self.secret_attnames = tuple(secrets)
        self.m2m = tuple(m2m)
        for f in m2m:
            known[f.name] = strategy_for(f.name, options.mask_fields, global_masks)
        self.policy = MaskPolicy(global_masks, hash_key, options.mask_fields, known)


class Registry:
    """The set of tracked models (one instance: :data:`registry`)."""

    def __init__(self) -> None:
        self._options: dict[type[models.Model], ModelOptions] = {}
        self._trackers: dict[type[models.Model], Tracker] = {}
        # sender -> tracker, including unregistered proxies of tracked models
        self._routes: dict[type[models.Model], Tracker] = {}
        # link (through) model -> the tracked M2M fields whose links it holds
        self._links: dict[type[models.Model], tuple[tuple[Tracker, Any], ...]] = {}
        self._from_settings: set[type[models.Model]] = set()
        # registered by MODELS "__all__" (a subset of _from_settings): an
        # explicit register() takes such a model over, with its own options
        self._from_all: set[type[models.Model]] = set()
        self._held = False  # register()/unregister() publish later, once
        self._subscribers: list[Callable[[Routes], None]] = []
        self._lock = threading.RLock()
        self._ready = False

    # -- public API -------------------------------------------------------
    def register(self, model: type[models.Model], **options: Any) -> None:
        with self._lock:
            if not (isinstance(model, type) and issubclass(model, models.Model)):
                raise ImproperlyConfigured(
                    f"autoaudit.register() needs a model class, not {model!r}."
                )
            label = model_label(model)
            if model._meta.abstract:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): {label} is abstract; register its "
                    "concrete subclasses."
                )
            if model in self._from_all:
                self.unregister(model)  # registered in code: its own options win
            if model in self._options:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): {label} is already registered."
                )
            self._options[model] = normalise_options(model, options)
            if self._ready:
                try:
                    self._trackers[model] = Tracker(
                        model, self._options[model], self._inherited(model)
                    )
                except Exception:
                    del self._options[model]
                    raise
                if not self._held:
                    self._publish()

    def unregister(self, model: type[models.Model]) -> None:
        with self._lock:
            if model not in self._options:
                raise ImproperlyConfigured(
                    f"autoaudit.unregister({model_label(model)}): it is not registered."
                )
            del self._options[model]
            self._from_settings.discard(model)
            self._from_all.discard(model)
            self._trackers.pop(model, None)
            if not self._held:
                self._publish()

    def is_registered(self, model: type[models.Model]) -> bool:
        return model in self._options

    def registered(self) -> list[type[models.Model]]:
        return list(self._options)

    def tracker_for(self, model: type[models.Model]) -> Tracker | None:
        """The tracker ``model``'s logs are written and looked up under: its
        own, or a proxy's concrete model's; else ``None``."""
        tracker = self._routes.get(model)
        if tracker is None or tracker.model._meta.concrete_model is not model._meta.concrete_model:
            return None
        return tracker

    def route(self, model: type[models.Model]) -> Tracker | None:
        """The tracker writes through ``model`` are logged with: as
        :meth:`tracker_for`, and for an unregistered multi-table child its
        nearest registered ancestor's (the child's writes change that row)."""
        return self._routes.get(model)

    def links_in(self, model: type[models.Model]) -> tuple[tuple[Tracker, Any], ...]:
        """``(tracker, field)`` of each tracked M2M field whose links ``model``
        (a through model) holds; empty for any other model."""
        return self._links.get(model, ())

    def routes(self) -> Routes:
        """Every sender model and its tracker (see :meth:`route`)."""
        return MappingProxyType(self._routes)

    def subscribe(self, callback: Callable[[Routes], None]) -> None:
        """Call ``callback(routes)`` now and after every change (idempotent)."""
        with self._lock:
            if callback not in self._subscribers:
                self._subscribers.append(callback)
            callback(self.routes())

    # -- lifecycle --------------------------------------------------------
    def ready(self) -> None:
        """Called from ``AppConfig.ready()``: apply settings and activate."""
        with self._lock:
            self._ready = True
            self._apply_settings_models()
            for model, options in self._options.items():
                if model not in self._trackers:
                    self._trackers[model] = Tracker(model, options, self._inherited(model))
            self._publish()

    def settings_changed(self) -> None:
        with self._lock:
            if not self._ready:
                return
            self._apply_settings_models()
            for tracker in self._trackers.values():
                tracker.compile()

    def _apply_settings_models(self) -> None:
        """Register what ``MODELS`` names (and, for ``"__all__"``, every other
        model but the excluded ones and those registered in code); unregister
        what it no longer names. Published once, at the end."""
        self._held = True
        try:
            self._apply_models(get_settings().MODELS)
        finally:
            self._held = False
            if self._ready:
                self._publish()

    def _apply_models(self, setting: Mapping[str, Mapping[str, Any]]) -> None:
        configured: dict[type[models.Model], Mapping[str, Any]] = {}
        for label, options in setting.items():
            if label != ALL_MODELS:
                configured[selection.settings_model(label, "MODELS")] = options
        every: set[type[models.Model]] = set()
        if ALL_MODELS in setting:
            every = self._every_model(configured)
            configured.update(dict.fromkeys(every, setting[ALL_MODELS]))
        for model in list(self._from_settings):
            if model not in configured or (model in self._from_all) != (model in every):
                self.unregister(model)
        for model, options in configured.items():
            key = f"[{ALL_MODELS!r}] ({model._meta.label})" if model in every else ""
            key = key or f"[{model._meta.label!r}]"
            try:
                if model in self._from_settings:
                    if self._options[model] == normalise_options(model, options):
                        continue
                    self.unregister(model)
                self.register(model, **options)
            except ImproperlyConfigured as exc:
                raise ImproperlyConfigured(f"AUTOAUDIT['MODELS']{key}: {exc}") from None
            self._from_settings.add(model)
            if model in every:
                self._from_all.add(model)

    def _every_model(self, named: Mapping[type[models.Model], Any]) -> set[type[models.Model]]:
        """What ``"__all__"`` registers (see :func:`selection.every_model`):
        not the models registered in code."""
        return {
            model
            for model in selection.every_model(named)
            if model not in self._options or model in self._from_settings
        }

    def _inherited(self, model: type[models.Model]) -> tuple[ModelOptions, ...]:
        """The options of the registered models ``model`` inherits from,
        nearest first: a proxy's concrete model, then the multi-table parents."""
        concrete = model._meta.concrete_model or model
        chain = [concrete] if concrete is not model else []
        chain += concrete._meta.get_parent_list()
        return tuple(self._options[m] for m in chain if m in self._options)

    def _publish(self) -> None:
        for model, tracker in self._trackers.items():
            inherited = self._inherited(model)
            if inherited != tracker.inherited:  # a parent was (un)registered
                tracker.inherited = inherited
                tracker.compile()
        routes: dict[type[models.Model], Tracker] = dict(self._trackers)
        # A model that is not registered itself is tracked as its nearest
        # registered concrete model: a proxy's concrete model (writes through
        # it change the same rows), else a multi-table child's nearest
        # registered ancestor (they change that ancestor's row).
        for model in apps.get_models() if self._ready else ():
            if model not in routes:
                concrete = model._meta.concrete_model or model
                chain = [concrete, *concrete._meta.get_parent_list()]
                nearest = next((self._trackers[m] for m in chain if m in self._trackers), None)
                if nearest is not None:
                    routes[model] = nearest
        self._routes = routes
        found: dict[type[models.Model], list[tuple[Tracker, Any]]] = {}
        for tracker in self._trackers.values():
            for field in tracker.m2m:
                through: type[models.Model] = field.remote_field.through  # type: ignore[assignment]
                found.setdefault(through, []).append((tracker, field))
        self._links = {through: tuple(pairs) for through, pairs in found.items()}
        for callback in self._subscribers:
            callback(self.routes())


registry = Registry()


def sync_accessors(routes: Routes) -> None:
    """A registry subscriber: the ``accessor`` of each registered model on its class."""
    accessor.sync(
        {
            tracker.model: tracker.declared.accessor
            for tracker in routes.values()
            if tracker.declared.accessor is not None
        }
    )


@overload
def register(model: M, /, **options: Any) -> M: ...
@overload
def register(model: None = None, /, **options: Any) -> Callable[[M], M]: ...
def register(model: M | None = None, /, **options: Any) -> M | Callable[[M], M]:
    """Track a model: ``register(Model, **options)`` or ``@register(**options)``.

    Options: ``include_fields``, ``exclude_fields``, ``mask_fields``,
    ``m2m_fields``, ``entity``, ``entity_name``, ``guest_fields``,
    ``actions``, ``bulk``, ``description``, ``accessor`` (the name of an
    attribute that gives an instance its logs: ``product.activity.all()``),
    ``tags`` (a list of tags, or a callable ``instance -> list``, on every
    row) and ``related`` (a callable ``instance -> the instance the change
    belongs to``, or a ``(model, pk)`` pair, or ``None``).
    An unknown option, or a field both included and excluded, raises
    ``ImproperlyConfigured``.
    """
    if model is None:

        def decorator(cls: M) -> M:
            registry.register(cls, **options)
            return cls

        return decorator
    registry.register(model, **options)
    return model


def unregister(model: type[models.Model]) -> None:
    """Stop tracking a model."""
    registry.unregister(model)


def is_registered(model: type[models.Model]) -> bool:
    """True if ``model`` is registered itself."""
    return registry.is_registered(model)


def registered_models() -> Iterable[type[models.Model]]:
    """The models registered themselves (not the proxies routed to them)."""
    return registry.registered()
