"""``register(Model, accessor="activity")``: the logs of an object, from the object.

``product.activity`` is ``ActivityLog.objects.for_instance(product)`` (newest
first; ``.all()``, ``.filter()``, ``.count()`` ... as on any queryset), and
``Product.activity`` on the class every log of the model
(``ActivityLog.objects.for_model(Product)``). The descriptor is read-only.

The name must not clash with anything the model class already has (a
field, a reverse relation, a manager, a method, a property): such a name is
refused with ``ImproperlyConfigured``. :func:`sync` follows the registry:
it puts the descriptor on each registered model that asks for one and takes
it away again on ``unregister``.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Mapping
from typing import Any, overload

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

#: registered model -> the name of the accessor put on it
_installed: dict[type[models.Model], str] = {}


class ActivityAccessor:
    """The accessor ``register(..., accessor=name)`` puts on a model class.

    On an instance: its logs, newest first (an ``ActivityLogQuerySet``); on
    the class: every log of the model. Lazy, like any queryset: nothing is
    read until it is evaluated. For type checkers, declare it on the model
    as ``activity: ClassVar[autoaudit.ActivityAccessor]``.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[models.Model]) -> models.QuerySet[Any]: ...
    @overload
    def __get__(
        self, instance: models.Model, owner: type[models.Model] | None = None
    ) -> models.QuerySet[Any]: ...
    def __get__(
        self, instance: models.Model | None, owner: type[models.Model] | None = None
    ) -> models.QuerySet[Any]:
        manager: Any = apps.get_registered_model("autoaudit", "ActivityLog")._default_manager
        if instance is None:
            return manager.for_model(owner)  # type: ignore[no-any-return]
        return manager.for_instance(instance)  # type: ignore[no-any-return]

    def __set__(self, instance: models.Model, value: Any) -> None:
        raise AttributeError(
            f"{type(instance).__name__}.{self.name} is autoaudit's read-only "
            "accessor of the object's logs."
        )


def check_name(model: type[models.Model], label: str, name: str | None) -> None:
    """Refuse an accessor name that is not an identifier or that ``model``
    already has (anything but an accessor of ours); ``None`` asks for none."""
    if name is None:
        return
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): accessor must be a Python identifier, not {name!r}."
        )
    if name.startswith("__"):
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): accessor {name!r} is a reserved (dunder) name."
        )
    existing = inspect.getattr_static(model, name, None)
    if existing is not None and not isinstance(existing, ActivityAccessor):
        what = type(existing).__name__
        raise ImproperlyConfigured(
            f"autoaudit.register({label}): accessor {name!r} clashes with {label}.{name} "
            f"(a {what}) that the model already has; choose another name."
        )


def sync(accessors: Mapping[type[models.Model], str]) -> None:
    """Make the accessors on model classes those of ``accessors`` (registered
    model -> name): add the new ones, remove the ones no longer asked for."""
    for model, name in list(_installed.items()):
        if accessors.get(model) != name:
            if isinstance(model.__dict__.get(name), ActivityAccessor):
                delattr(model, name)
            del _installed[model]
    for model, name in accessors.items():
        if _installed.get(model) != name:
            setattr(model, name, ActivityAccessor(name))
            _installed[model] = name
