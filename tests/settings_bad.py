"""Test settings with an invalid ``AUTOAUDIT``: ``django.setup()`` must fail."""

from tests.settings import *  # noqa: F403

AUTOAUDIT = {"ON_ERROR": "explode"}
