"""A model django-pghistory tracks (PostgreSQL only)."""

from __future__ import annotations

import pghistory

from tests.importers.source.models import Book


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class PghistoryBook(Book):
    pass
