"""Bad ``register()`` options fail loudly, naming the model and the option (issue 18)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

import autoaudit
from autoaudit.conf import parse_settings
from tests.testapp.models import Product


def test_a_field_both_included_and_excluded_fails() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"register\(testapp\.Product\): 'name' is in both include_fields and exclude_fields",
    ):
        autoaudit.register(Product, include_fields=["name", "price"], exclude_fields=["name"])
    assert not autoaudit.is_registered(Product)


def test_a_misspelt_option_fails_with_the_likely_name() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        autoaudit.register(Product, exlude_fields=["name"])
    message = str(caught.value)
    assert "autoaudit.register(testapp.Product)" in message
    assert "'exlude_fields' (did you mean 'exclude_fields'?)" in message
    assert not autoaudit.is_registered(Product)


def test_an_unknown_option_with_no_close_match_lists_the_known_ones() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"unknown option\(s\) 'colour'; known: ") as e:
        autoaudit.register(colour="red")(Product)
    assert "did you mean" not in str(e.value)
    assert not autoaudit.is_registered(Product)


def test_the_settings_form_suggests_the_likely_option() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"AUTOAUDIT\['MODELS'\] gives 'auth.User' unknown option\(s\) "
        r"'include_field' \(did you mean 'include_fields'\?\)",
    ):
        parse_settings({"MODELS": {"auth.User": {"include_field": ["username"]}}})


def test_the_settings_form_refuses_a_field_both_included_and_excluded(
    settings: Settings,
) -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"AUTOAUDIT\['MODELS'\]\['auth.User'\].*'email' is in both include_fields and "
        "exclude_fields",
    ):
        settings.AUTOAUDIT = {
            "MODELS": {"auth.User": {"include_fields": ["email"], "exclude_fields": ["email"]}}
        }
    settings.AUTOAUDIT = {}
