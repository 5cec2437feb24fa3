"""``autoaudit.middleware.AuditMiddleware`` (lives in :mod:`autoaudit.web.middleware`)."""

from autoaudit.web.middleware import AuditMiddleware

__all__ = ["AuditMiddleware"]
