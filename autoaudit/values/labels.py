"""Model classes from ``"app_label.ModelName"`` labels, and back."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models


def model_for_label(label: Any) -> type[models.Model] | None:
    """The installed model named ``"app_label.ModelName"``, or ``None``."""
    if not isinstance(label, str) or label.count(".") != 1:
        return None
    app_label, model_name = label.split(".")
    try:
        return apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        return None


def model_label(model: type[models.Model]) -> str:
    """``"app_label.ModelName"`` (the class name's case, as ``computed_entity`` keeps it)."""
    return f"{model._meta.app_label}.{model.__name__}"
