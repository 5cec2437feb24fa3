"""The privacy and retention settings: defaults and one test per bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from autoaudit.conf import get_settings, parse_settings


def test_defaults() -> None:
    parsed = parse_settings({})
    assert parsed.HONOR_GPC is True
    assert parsed.HONOR_DNT is True
    assert parsed.OPT_OUT_COOKIE == "autoaudit_opt_out"
    assert parsed.PRUNE_BATCH_SIZE == 5000
    assert parsed.ARCHIVE_DIR is None


def test_good_values() -> None:
    parsed = parse_settings(
        {
            "HONOR_GPC": False,
            "HONOR_DNT": False,
            "OPT_OUT_COOKIE": "no-track_v2",
            "PRUNE_BATCH_SIZE": 1,
            "ARCHIVE_DIR": Path("/var/backups/audit"),
        }
    )
    assert (parsed.HONOR_GPC, parsed.HONOR_DNT) == (False, False)
    assert parsed.OPT_OUT_COOKIE == "no-track_v2"
    assert parsed.PRUNE_BATCH_SIZE == 1
    assert parsed.ARCHIVE_DIR == "/var/backups/audit"
    assert parse_settings({"ARCHIVE_DIR": "archives"}).ARCHIVE_DIR == "archives"
    assert parse_settings({"PRUNE_BATCH_SIZE": 1_000_000}).PRUNE_BATCH_SIZE == 1_000_000


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HONOR_GPC", "yes"),
        ("HONOR_GPC", 1),
        ("HONOR_GPC", None),
        ("HONOR_DNT", "false"),
        ("HONOR_DNT", 0),
        ("OPT_OUT_COOKIE", ""),
        ("OPT_OUT_COOKIE", "opt out"),
        ("OPT_OUT_COOKIE", "a=b"),
        ("OPT_OUT_COOKIE", "a;b"),
        ("OPT_OUT_COOKIE", "ç"),
        ("OPT_OUT_COOKIE", None),
        ("OPT_OUT_COOKIE", 5),
        ("PRUNE_BATCH_SIZE", 0),
        ("PRUNE_BATCH_SIZE", -5),
        ("PRUNE_BATCH_SIZE", 1_000_001),
        ("PRUNE_BATCH_SIZE", "5000"),
        ("PRUNE_BATCH_SIZE", 5000.0),
        ("PRUNE_BATCH_SIZE", True),
        ("PRUNE_BATCH_SIZE", None),
        ("ARCHIVE_DIR", ""),
        ("ARCHIVE_DIR", "   "),
        ("ARCHIVE_DIR", 5),
        ("ARCHIVE_DIR", b"/tmp"),
        ("ARCHIVE_DIR", ["/tmp"]),
    ],
)
def test_bad_values_name_the_key(key: str, value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=rf"AUTOAUDIT\['{key}'\]"):
        parse_settings({key: value})


def test_override_settings_takes_effect(settings: Settings) -> None:
    settings.AUTOAUDIT = {"PRUNE_BATCH_SIZE": 7, "OPT_OUT_COOKIE": "x"}
    assert get_settings().PRUNE_BATCH_SIZE == 7
    assert get_settings().OPT_OUT_COOKIE == "x"
