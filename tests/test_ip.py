"""Client IP: X-Forwarded-For only from trusted proxies, bad input dropped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.test import RequestFactory, override_settings

import autoaudit
from autoaudit.actors.ip import MAX_FORWARDED_HOPS, get_client_ip, parse_ip

PROXIES = {"TRUSTED_PROXIES": ["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"]}


def _request(remote: Any = "203.0.113.7", forwarded: str | None = None) -> Any:
    request = RequestFactory().get("/")
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_remote_addr_without_proxies() -> None:
    assert get_client_ip(_request("203.0.113.7")) == "203.0.113.7"


def test_public_helper_is_the_same() -> None:
    assert autoaudit.get_client_ip(_request("203.0.113.7")) == "203.0.113.7"


def test_spoofed_forwarded_for_from_untrusted_client_is_ignored() -> None:
    request = _request("203.0.113.7", forwarded="1.2.3.4")
    assert get_client_ip(request) == "203.0.113.7"
    with override_settings(AUTOAUDIT=PROXIES):
        # Still untrusted: 203.0.113.7 is not one of the proxies.
        assert get_client_ip(request) == "203.0.113.7"


@override_settings(AUTOAUDIT=PROXIES)
def test_trusted_proxy_gives_rightmost_untrusted_address() -> None:
    # The client forged "1.1.1.1"; the proxy appended the real peer.
    request = _request("10.1.2.3", forwarded="1.1.1.1, 198.51.100.20")
    assert get_client_ip(request) == "198.51.100.20"


@override_settings(AUTOAUDIT=PROXIES)
def test_chain_of_trusted_proxies_is_skipped() -> None:
    request = _request("10.0.0.1", forwarded="198.51.100.20, 192.0.2.1, 10.9.9.9")
    assert get_client_ip(request) == "198.51.100.20"


@override_settings(AUTOAUDIT=PROXIES)
def test_only_trusted_hops_gives_leftmost() -> None:
    assert get_client_ip(_request("10.0.0.1", forwarded="10.0.0.2, 10.0.0.3")) == "10.0.0.2"


@override_settings(AUTOAUDIT=PROXIES)
def test_trusted_proxy_without_header_is_the_client() -> None:
    assert get_client_ip(_request("10.0.0.1")) == "10.0.0.1"
    assert get_client_ip(_request("10.0.0.1", forwarded="  ")) == "10.0.0.1"


@override_settings(AUTOAUDIT=PROXIES)
def test_garbage_hop_where_the_client_should_be_gives_none() -> None:
    assert get_client_ip(_request("10.0.0.1", forwarded="1.2.3.4, not-an-ip")) is None
    assert get_client_ip(_request("10.0.0.1", forwarded="unknown")) is None


@override_settings(AUTOAUDIT=PROXIES)
def test_garbage_left_of_the_client_is_never_reached() -> None:
    request = _request("10.0.0.1", forwarded="<script>, 198.51.100.20")
    assert get_client_ip(request) == "198.51.100.20"


@override_settings(AUTOAUDIT=PROXIES)
def test_huge_forwarded_header_is_bounded() -> None:
    hops = ", ".join(["10.0.0.9"] * (MAX_FORWARDED_HOPS * 10))
    assert get_client_ip(_request("10.0.0.1", forwarded="198.51.100.1, " + hops)) == "10.0.0.9"


def test_ipv6_remote_addr() -> None:
    assert get_client_ip(_request("2001:DB8::1")) == "2001:db8::1"


@override_settings(AUTOAUDIT=PROXIES)
def test_ipv6_proxy_and_client() -> None:
    request = _request("2001:db8:ffff::5", forwarded="2001:db8:1::99, [2001:db8:ffff::6]:443")
    assert get_client_ip(request) == "2001:db8:1::99"


@pytest.mark.parametrize(
    "remote", ["", "garbage", "999.1.1.1", "1.2.3", "<script>", 12345, "1.2.3.4" * 40]
)
def test_garbage_remote_addr_is_dropped(remote: Any) -> None:
    # A forged header cannot stand in for a missing or invalid peer address.
    assert get_client_ip(_request(remote, forwarded="198.51.100.1")) is None


def test_missing_remote_addr() -> None:
    assert get_client_ip(_request(None)) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4:8080", "1.2.3.4"),
        ("[::1]:8000", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:192.0.2.128", "192.0.2.128"),
        ("nope", None),
        (None, None),
    ],
)
def test_parse_ip(raw: Any, expected: str | None) -> None:
    parsed = parse_ip(raw)
    assert (str(parsed) if parsed is not None else None) == expected


def test_objects_that_are_not_requests() -> None:
    assert get_client_ip(None) is None
    assert get_client_ip("203.0.113.7") is None
    assert get_client_ip(SimpleNamespace(META="not a dict")) is None
    # Duck-typed objects with a META mapping are read (test doubles, adapters).
    assert get_client_ip(SimpleNamespace(META={"REMOTE_ADDR": "203.0.113.8"})) == "203.0.113.8"


def test_wrapped_request_is_unwrapped() -> None:
    # Django REST framework's Request keeps the Django request as _request.
    wrapper = SimpleNamespace(_request=_request("203.0.113.9"))
    assert get_client_ip(wrapper) == "203.0.113.9"
