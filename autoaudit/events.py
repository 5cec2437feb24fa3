"""``log_event()`` for views, downloads and uploads (:mod:`autoaudit.web.events`)."""

from autoaudit.web.events import log_event, should_log

__all__ = ["log_event", "should_log"]
