"""``autoaudit_import`` in a project without the source packages: clear
errors. (The importers themselves are tested against the real packages in
``tests/importers``, with their own settings.)"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from autoaudit.lifecycle.importers import ImportSourceError, source

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("auditlog", "django-auditlog"),
        ("simple-history", "django-simple-history"),
        ("reversion", "django-reversion"),
        ("pghistory", "django-pghistory"),
    ],
)
def test_a_source_whose_package_is_not_installed_is_named(name: str, package: str) -> None:
    with pytest.raises(CommandError, match=f"--from {name}: {package} is not in INSTALLED_APPS"):
        call_command("autoaudit_import", "--from", name, stdout=StringIO(), stderr=StringIO())


def test_an_unknown_source_and_model_are_refused() -> None:
    with pytest.raises(ImportSourceError, match="unknown source 'audit'; choose one of auditlog"):
        source("audit")
    with pytest.raises(CommandError, match="invalid choice: 'audit'"):
        call_command("autoaudit_import", "--from", "audit")
    with pytest.raises(CommandError, match=r"--model: 'testapp\.Nope' is not an installed model"):
        call_command("autoaudit_import", "--from", "auditlog", "--model", "testapp.Nope")
    with pytest.raises(CommandError, match="--since: 'soon' is not a date"):
        call_command("autoaudit_import", "--from", "auditlog", "--since", "soon")
