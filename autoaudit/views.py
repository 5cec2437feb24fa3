"""The timeline views (they live in :mod:`autoaudit.web.timeline`)."""

from autoaudit.web.timeline import ObjectHistoryView, TimelineView

__all__ = ["ObjectHistoryView", "TimelineView"]
