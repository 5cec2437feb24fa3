"""``SEAL_KEY`` and ``SEAL_DELAY``: defaults and the checks ``autoaudit.W005``/``W006``."""

from __future__ import annotations

from django.core import checks
from pytest_django import Settings

from autoaudit.checks import check_seal_settings
from autoaudit.conf import get_settings, seal_secret
from autoaudit.lifecycle.rowmac import SealKey


def test_defaults(settings: Settings) -> None:
    assert get_settings().SEAL_KEY is None
    assert get_settings().SEAL_DELAY == 300
    assert seal_secret() == settings.SECRET_KEY.encode()
    settings.AUTOAUDIT = {"SEAL_KEY": "a seal key", "SEAL_DELAY": 600}
    assert seal_secret() == b"a seal key"
    assert get_settings().SEAL_DELAY == 600
    assert check_seal_settings() == []


def test_the_mac_key_is_not_the_secret() -> None:
    key = SealKey(b"secret")
    assert key.mac(b"x") != SealKey(b"other").mac(b"x")
    assert len(key.id) == 16 and "secret" not in key.id


def test_a_reused_key_warns(settings: Settings) -> None:
    settings.AUTOAUDIT = {"SEAL_KEY": settings.SECRET_KEY}
    (message,) = check_seal_settings()
    assert message.id == "autoaudit.W005"
    assert "SECRET_KEY" in message.msg
    settings.AUTOAUDIT = {"SEAL_KEY": "k", "ARCHIVE_KEY": "k", "MASK_HASH_KEY": "k"}
    (message,) = check_seal_settings()
    assert "MASK_HASH_KEY, ARCHIVE_KEY" in message.msg


def test_a_short_delay_warns(settings: Settings) -> None:
    settings.AUTOAUDIT = {"SEAL_DELAY": 10}
    (message,) = check_seal_settings()
    assert message.id == "autoaudit.W006"
    assert "autoaudit.W006" in {m.id for m in checks.run_checks(tags=[checks.Tags.security])}
