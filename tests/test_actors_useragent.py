"""Device class, browser and OS of a guest from the User-Agent (ua-parser)."""

from __future__ import annotations

from typing import Any

import pytest

from autoaudit.actors.useragent import MAX_PARSED_LENGTH, describe_user_agent

CASES = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        {"device": "desktop", "browser": "Chrome 120", "os": "Windows 10"},
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        {"device": "mobile", "browser": "Mobile Safari 17", "os": "iOS 17"},
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        {"device": "tablet", "browser": "Mobile Safari 16", "os": "iOS 16"},
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        {"device": "tablet", "browser": "Chrome 120", "os": "Android 13"},
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        {"device": "mobile", "browser": "Chrome Mobile 120", "os": "Android 14"},
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        {"device": "bot", "browser": "Googlebot 2"},
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        {"device": "desktop", "browser": "Firefox 121", "os": "Ubuntu"},
    ),
    ("curl/8.4.0", {"browser": "curl 8"}),
    ("", {}),
    ("completely unknown thing", {}),
]


@pytest.mark.parametrize(("agent", "expected"), CASES)
def test_describe_user_agent(agent: str, expected: dict[str, str]) -> None:
    assert describe_user_agent(agent) == expected


@pytest.mark.parametrize("agent", [None, 42, b"Mozilla/5.0", ["x"]])
def test_non_strings_give_nothing(agent: Any) -> None:
    assert describe_user_agent(agent) == {}


def test_only_the_start_of_a_huge_agent_is_parsed() -> None:
    desktop = CASES[0][0]
    # A "Mobile" token beyond the parsed prefix cannot change the answer.
    agent = desktop + " " * MAX_PARSED_LENGTH + " Mobile iPhone " + "A" * 10_240
    assert describe_user_agent(agent) == CASES[0][1]
