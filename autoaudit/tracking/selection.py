"""Which models ``AUTOAUDIT["MODELS"] = "__all__"`` stands for.

Every installed concrete model, less Django's bookkeeping and autoaudit's
own (:data:`~autoaudit.conf.DEFAULT_EXCLUDE_MODELS`), ``EXCLUDE_MODELS``,
proxies (tracked as their concrete model) and the models ``MODELS`` names.
The registry leaves out, besides, the models registered in code.
"""

from __future__ import annotations

from collections.abc import Container

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from autoaudit.conf import DEFAULT_EXCLUDE_MODELS, close_match, get_settings


def settings_model(label: str, key: str) -> type[models.Model]:
    """The installed model ``label`` names in the setting ``key``."""
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        known = [model._meta.label for model in apps.get_models()]
        raise ImproperlyConfigured(
            f"AUTOAUDIT[{key!r}] names {label!r}, which is not an installed model"
            f"{close_match(label, known)}."
        ) from None


def every_model(named: Container[type[models.Model]]) -> set[type[models.Model]]:
    """The models ``"__all__"`` covers when ``MODELS`` names ``named``;
    ``ImproperlyConfigured`` for an ``EXCLUDE_MODELS`` entry that names no
    installed model or app, or a model both named and excluded."""
    excluded_models: set[type[models.Model]] = set()
    excluded_apps: set[str] = set()
    given = get_settings().EXCLUDE_MODELS
    for label in (*DEFAULT_EXCLUDE_MODELS, *given):
        strict = label in given  # a default may name an app not installed
        if "." in label:
            try:
                excluded_models.add(settings_model(label, "EXCLUDE_MODELS"))
            except ImproperlyConfigured:
                if strict:
                    raise
            continue
        try:
            excluded_apps.add(apps.get_app_config(label).label)
        except LookupError:
            if strict:
                known = [config.label for config in apps.get_app_configs()]
                raise ImproperlyConfigured(
                    f"AUTOAUDIT['EXCLUDE_MODELS'] names {label!r}, which is not the "
                    f"label of an installed app{close_match(label, known)}."
                ) from None
    for model in excluded_models:
        if model in named and model._meta.label in given:
            raise ImproperlyConfigured(
                f"AUTOAUDIT names {model._meta.label!r} both in MODELS and in "
                "EXCLUDE_MODELS; keep it in one of them."
            )
    return {
        model
        for model in apps.get_models()
        if not model._meta.proxy
        and model not in named
        and model not in excluded_models
        and model._meta.app_label not in excluded_apps
    }
