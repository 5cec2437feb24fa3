"""Which models are tracked, and everything about them worked out once.

``register`` validates the options and builds a :class:`Tracker` (the tracked
fields, masks, names), connects the signal receivers for that model only
(``sender=``, stable ``dispatch_uid``) and wraps the model's ``save_base`` so
that, in autocommit mode, the change and its log commit in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, overload

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from autoaudit.conf import MASK_STRATEGIES, get_settings

M = TypeVar("M", bound=type[models.Model])

CRUD_ACTIONS = frozenset({"create", "update", "delete"})
GUEST_FIELD_KEYS = frozenset({"email", "phone", "name"})


@dataclass(frozen=True)
class ModelOptions:
    """The keyword options of :func:`register`, normalised."""

    include_fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] = ()
    mask_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    m2m_fields: tuple[str, ...] = ()
    entity: str | None = None
    entity_name: Callable[[Any], str] | None = None
    guest_fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    actions: frozenset[str] = CRUD_ACTIONS
    bulk: bool = True
    description: Callable[..., str] | None = None


def entity_labels(model: type[models.Model]) -> tuple[str, str]:
    """``(entity, computed_entity)`` for a model: registered overrides win."""
    # The tracker a model routes to decides: an unregistered proxy of a
    # tracked model logs (and is looked up) under the concrete model.
    tracker = registry.tracker_for(model)
    if tracker is not None:
        return tracker.entity, tracker.computed_entity
    return model._meta.model_name or model.__name__.lower(), _computed(model)


def _computed(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


class Tracker:
    """Per-model metadata computed at registration (and on settings change)."""

    def __init__(self, model: type[models.Model], options: ModelOptions) -> None:
        self.model = model
        self.options = options
        self.entity = (options.entity or model._meta.model_name or "")[:50]
        self.computed_entity = _computed(model)[:100]
        self.fields: tuple[models.Field[Any, Any], ...] = ()
        self.field_names: frozenset[str] = frozenset()
        self.masks: Mapping[str, str] = {}
        self.m2m: tuple[models.ManyToManyField[Any, Any], ...] = ()
        self.actions = options.actions
        self.compile()

    def compile(self) -> None:
        """Resolve fields and masks; raise ``ImproperlyConfigured`` on bad names."""
        from autoaudit.masking import strategy_for

        model, options, label = self.model, self.options, self.computed_entity
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

        included = set(options.include_fields) if options.include_fields is not None else None
        excluded = set(options.exclude_fields)
        settings = get_settings()
        fields = []
        masks = {}
        for f in meta.concrete_fields:
            if f.primary_key or f.name in excluded:
                continue
            if included is not None and f.name not in included:
                continue
            if included is None and (
                getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ):
                continue
            strategy = strategy_for(f.name, options.mask_fields, settings.MASK_FIELDS)
            if strategy == "exclude":
                continue
            if strategy is not None:
                masks[f.name] = strategy
            fields.append(f)
        self.fields = tuple(fields)
        self.field_names = frozenset(f.name for f in fields)
        self.labels_cache: dict[str | None, dict[str, str]] = {}
        self.masks = MappingProxyType(masks)
        self.m2m = tuple(m2m)

    def mask_for(self, name: str) -> str | None:
        return self.masks.get(name)


def _normalise_options(model: type[models.Model], raw: Mapping[str, Any]) -> ModelOptions:
    label = _computed(model)

    def names(option: str) -> tuple[str, ...]:
        value = raw.get(option) or ()
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): {option} must be a list of field names."
            )
        return tuple(value)

    mask = raw.get("mask_fields") or {}
    if isinstance(mask, list | tuple | set | frozenset):
        mask = dict.fromkeys(mask, "redact")
    if not isinstance(mask, Mapping):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): mask_fields must be a dict or a list."
        )
    for name, strategy in mask.items():
        if strategy not in MASK_STRATEGIES:
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): mask_fields gives {name!r} the unknown "
                f"strategy {strategy!r}; choose one of {', '.join(MASK_STRATEGIES)}."
            )
    actions = raw.get("actions")
    if actions is None:
        actions_set = CRUD_ACTIONS
    else:
        actions_set = frozenset(actions)
        unknown = actions_set - CRUD_ACTIONS
        if isinstance(actions, str) or unknown:
            raise ImproperlyConfigured(
                f"autoaudit.register({label}): actions must be a subset of "
                f"create, update, delete (got {actions!r})."
            )
    guest = raw.get("guest_fields") or {}
    if not isinstance(guest, Mapping):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): guest_fields must be a dict like "
            "{'email': 'email_field', 'phone': ..., 'name': ...}."
        )
    for option in ("entity_name", "description"):
        if raw.get(option) is not None and not callable(raw[option]):
            raise ImproperlyConfigured(f"autoaudit.register({label}): {option} must be a callable.")
    entity = raw.get("entity")
    if entity is not None and (not isinstance(entity, str) or not entity or len(entity) > 50):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): entity must be a non-empty string of "
            "at most 50 characters."
        )
    bulk = raw.get("bulk", True)
    if not isinstance(bulk, bool):
        raise ImproperlyConfigured(f"autoaudit.register({label}): bulk must be True or False.")
    include = raw.get("include_fields")
    return ModelOptions(
        include_fields=None if include is None else names("include_fields"),
        exclude_fields=names("exclude_fields"),
        mask_fields=MappingProxyType(dict(mask)),
        m2m_fields=names("m2m_fields"),
        entity=entity,
        entity_name=raw.get("entity_name"),
        guest_fields=MappingProxyType(dict(guest)),
        actions=actions_set,
        bulk=bulk,
        description=raw.get("description"),
    )


class Registry:
    """The set of tracked models (one instance: :data:`registry`)."""

    def __init__(self) -> None:
        self._options: dict[type[models.Model], ModelOptions] = {}
        self._trackers: dict[type[models.Model], Tracker] = {}
        # sender -> tracker, including unregistered proxies of tracked models
        self._routes: dict[type[models.Model], Tracker] = {}
        self._from_settings: set[type[models.Model]] = set()
        self._lock = threading.RLock()
        self._ready = False

    # -- public API -------------------------------------------------------
    def register(self, model: type[models.Model], **options: Any) -> None:
        with self._lock:
            label = _computed(model)
            if not (isinstance(model, type) and issubclass(model, models.Model)):
                raise ImproperlyConfigured(
                    f"autoaudit.register() needs a model class, not {model!r}."
                )
            if model._meta.abstract:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): {label} is abstract; register its "
                    "concrete subclasses."
                )
            if model in self._options:
                raise ImproperlyConfigured(
                    f"autoaudit.register({label}): {label} is already registered."
                )
            self._options[model] = _normalise_options(model, options)
            if self._ready:
                try:
                    self._activate(model)
                except Exception:
                    del self._options[model]
                    raise

    def unregister(self, model: type[models.Model]) -> None:
        with self._lock:
            if model not in self._options:
                raise ImproperlyConfigured(
                    f"autoaudit.unregister({_computed(model)}): it is not registered."
                )
            del self._options[model]
            self._from_settings.discard(model)
            tracker = self._trackers.pop(model, None)
            if tracker is not None:
                from autoaudit import receivers

                receivers.disconnect(tracker)
            self._rebuild_routes()

    def is_registered(self, model: type[models.Model]) -> bool:
        return model in self._options

    def registered(self) -> list[type[models.Model]]:
        return list(self._options)

    def tracker_for(self, model: type[models.Model]) -> Tracker | None:
        return self._routes.get(model)

    # -- lifecycle --------------------------------------------------------
    def ready(self) -> None:
        """Called from ``AppConfig.ready()``: apply settings and activate."""
        with self._lock:
            self._ready = True
            self._apply_settings_models()
            for model in list(self._options):
                if model not in self._trackers:
                    self._activate(model)

    def settings_changed(self) -> None:
        with self._lock:
            if not self._ready:
                return
            self._apply_settings_models()
            for tracker in self._trackers.values():
                tracker.compile()

    def _apply_settings_models(self) -> None:
        configured: dict[type[models.Model], Mapping[str, Any]] = {}
        for label, options in get_settings().MODELS.items():
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                raise ImproperlyConfigured(
                    f"AUTOAUDIT['MODELS'] names {label!r}, which is not an installed model."
                ) from None
            configured[model] = options
        for model in list(self._from_settings):
            if model not in configured:
                self.unregister(model)
        for model, options in configured.items():
            label = model._meta.label
            try:
                if model in self._from_settings:
                    if self._options[model] == _normalise_options(model, options):
                        continue
                    self.unregister(model)
                self.register(model, **options)
            except ImproperlyConfigured as exc:
                raise ImproperlyConfigured(f"AUTOAUDIT['MODELS'][{label!r}]: {exc}") from None
            self._from_settings.add(model)

    def _activate(self, model: type[models.Model]) -> None:
        from autoaudit import receivers

        tracker = Tracker(model, self._options[model])
        self._trackers[model] = tracker
        receivers.connect(tracker)
        self._rebuild_routes()

    def _rebuild_routes(self) -> None:
        from autoaudit import receivers

        routes: dict[type[models.Model], Tracker] = dict(self._trackers)
        # A proxy of a tracked model that is not registered itself is tracked
        # under the concrete model: writes through it change the same rows.
        for model in apps.get_models() if self._ready else ():
            if model._meta.proxy and model not in routes:
                concrete = model._meta.concrete_model
                if concrete in self._trackers:
                    routes[model] = self._trackers[concrete]
        for sender in set(self._routes) - set(routes):
            receivers.disconnect_route(sender)
        for sender, tracker in routes.items():
            if sender is not tracker.model:
                receivers.connect_route(sender)
        self._routes = routes
        receivers.sync_save_wrappers(self._routes)
        from autoaudit import bulk

        if routes:
            bulk.install()
        else:
            bulk.uninstall()


registry = Registry()


@overload
def register(model: M, /, **options: Any) -> M: ...
@overload
def register(model: None = None, /, **options: Any) -> Callable[[M], M]: ...
def register(model: M | None = None, /, **options: Any) -> M | Callable[[M], M]:
    """Track a model: ``register(Model, **options)`` or ``@register(**options)``.

    Options: ``include_fields``, ``exclude_fields``, ``mask_fields``,
    ``m2m_fields``, ``entity``, ``entity_name``, ``guest_fields``,
    ``actions``, ``bulk``, ``description``.
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
    return registry.registered()
