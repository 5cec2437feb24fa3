"""``autoaudit_import``: the history other audit packages kept, as log rows.

One module per source reads that package's tables into the entries of
:mod:`~autoaudit.lifecycle.importers.core`, which writes them through the
one assembler and the one store. See ``docs/coming-from-*.md`` for what each
source maps and what it cannot.
"""

from __future__ import annotations

from collections.abc import Callable

from autoaudit.lifecycle.importers.core import (
    DEFAULT_BATCH_SIZE,
    ImportResult,
    ImportSourceError,
    Source,
    run,
)

__all__ = ["DEFAULT_BATCH_SIZE", "SOURCES", "ImportResult", "ImportSourceError", "run", "source"]


def _auditlog() -> Source:
    from autoaudit.lifecycle.importers.from_auditlog import AuditlogSource

    return AuditlogSource()


def _simple_history() -> Source:
    from autoaudit.lifecycle.importers.from_simple_history import SimpleHistorySource

    return SimpleHistorySource()


def _reversion() -> Source:
    from autoaudit.lifecycle.importers.from_reversion import ReversionSource

    return ReversionSource()


def _pghistory() -> Source:
    from autoaudit.lifecycle.importers.from_pghistory import PghistorySource

    return PghistorySource()


#: ``--from`` names and the source each reads.
SOURCES: dict[str, Callable[[], Source]] = {
    "auditlog": _auditlog,
    "simple-history": _simple_history,
    "reversion": _reversion,
    "pghistory": _pghistory,
}


def source(name: str) -> Source:
    """The importer named ``name``; :class:`ImportSourceError` if its package
    is not installed or the name is unknown."""
    try:
        factory = SOURCES[name]
    except KeyError:
        raise ImportSourceError(
            f"unknown source {name!r}; choose one of {', '.join(SOURCES)}."
        ) from None
    return factory()
