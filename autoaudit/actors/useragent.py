"""Device, browser and OS of a guest from the User-Agent header.

Parsing is done by ua-parser (the maintained Python port of the uap-core
rules, with a built-in result cache). The only rules of our own turn its
answer into a device class, which uap-core does not give: ``bot`` (its
"Spider" device), ``tablet``, ``mobile`` or ``desktop``.
"""

from __future__ import annotations

from typing import Any

import ua_parser

#: Only this much of a User-Agent is parsed: every real browser's fits, and a
#: forged 10 KB header costs no more than a normal one.
MAX_PARSED_LENGTH = 512

_MOBILE_OS = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "Windows Mobile",
        "BlackBerry OS",
        "BlackBerry Tablet OS",
        "KaiOS",
        "Firefox OS",
        "Symbian OS",
        "Tizen",
        "webOS",
        "HarmonyOS",
    }
)
_TABLET_FAMILIES = ("ipad", "kindle", "tablet", "playbook", "nexus 7", "nexus 9", "nexus 10")


def _known(value: str | None) -> str | None:
    return value if value and value != "Other" else None


def _version(family: str, major: str | None) -> str:
    return f"{family} {major}" if major else family


def _device_class(text: str, result: ua_parser.Result) -> str | None:
    device = result.device
    os_family = _known(result.os.family) if result.os else None
    device_family = (device.family or "").lower() if device else ""
    brand = (device.brand or "") if device else ""
    if device_family == "spider":
        return "bot"
    if any(name in device_family for name in _TABLET_FAMILIES) or brand.endswith("_Tablet"):
        return "tablet"
    lowered = text.lower()
    # Android tablets are the Android browsers that do not say "Mobile"
    # (the convention Google documents for Chrome).
    if os_family == "Android" and "mobile" not in lowered:
        return "tablet"
    if os_family in _MOBILE_OS or "mobi" in lowered:
        return "mobile"
    if os_family or device_family == "mac":
        return "desktop"
    return None  # an HTTP library or an unknown client: no device to tell


def _describe(text: str) -> dict[str, str]:
    # ua-parser caches parse results by string, so repeat visitors are cheap.
    result = ua_parser.parse(text)
    info: dict[str, str] = {}
    device = _device_class(text, result)
    if device:
        info["device"] = device
    agent = result.user_agent
    if agent is not None and _known(agent.family):
        info["browser"] = _version(agent.family, agent.major)
    os = result.os
    if os is not None and _known(os.family):
        info["os"] = _version(os.family, os.major)
    return info


def describe_user_agent(agent: Any) -> dict[str, str]:
    """``{"device": ..., "browser": ..., "os": ...}`` for a User-Agent string.

    ``device`` is ``"mobile"``, ``"tablet"``, ``"desktop"`` or ``"bot"``;
    ``browser`` is family and major version (``"Chrome 120"``). Keys that
    cannot be told are left out; an empty or non-string value gives ``{}``.
    """
    if not isinstance(agent, str):
        return {}
    text = agent[:MAX_PARSED_LENGTH].strip()
    if not text:
        return {}
    return _describe(text)
