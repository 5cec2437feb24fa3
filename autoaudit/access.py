"""Who may read which logs (it lives in :mod:`autoaudit.web.access`)."""

from autoaudit.web.access import VIEW_ALL_PERMISSION, can_view_all, visible_logs

__all__ = ["VIEW_ALL_PERMISSION", "can_view_all", "visible_logs"]
