"""The fifth variant, django-pghistory, on PostgreSQL only.

pghistory records events with database triggers that django-pgtrigger installs,
and triggers exist on PostgreSQL alone, so this app is in INSTALLED_APPS only
when the bench database is PostgreSQL (``benchmarks/settings.py``). The model
has the bench app's shape (``benchapp.models.Item``) like the other variants.
"""

from __future__ import annotations

import pghistory
from django.db import models

from benchmarks.benchapp.models import Item


@pghistory.track()
class PGHItem(Item):
    """Tracked by django-pghistory with its defaults: an insert and an update trigger
    that copy the row into the generated ``PGHItemEvent`` model (no delete event)."""


# The event model track() generated and put in this module, under a typed name.
PGHItemEvent: type[models.Model] = PGHItem.pgh_event_model  # type: ignore[attr-defined]
