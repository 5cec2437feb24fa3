"""View decorators that log views, downloads and uploads (:mod:`autoaudit.web.decorators`)."""

from autoaudit.web.decorators import log_action, log_download, log_upload, log_view

__all__ = ["log_action", "log_download", "log_upload", "log_view"]
