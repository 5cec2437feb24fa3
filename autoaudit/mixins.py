"""The class-based-view mixin (it lives in :mod:`autoaudit.web.mixins`)."""

from autoaudit.web.mixins import ActivityLogMixin

__all__ = ["ActivityLogMixin"]
