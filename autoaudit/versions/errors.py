"""The errors of reverting a logged change (importable before Django is set up)."""

from __future__ import annotations

from collections.abc import Iterable


class RevertError(Exception):
    """A logged change that cannot be reverted (or an object that cannot be
    restored); ``fields`` names the fields at fault, if any."""

    def __init__(self, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.fields: tuple[str, ...] = tuple(fields)


class RevertConflict(RevertError):
    """The fields in ``fields`` changed since the log being reverted;
    ``revert(force=True)`` sets them back anyway."""
