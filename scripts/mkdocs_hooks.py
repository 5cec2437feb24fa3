"""MkDocs hook: the docstrings' Sphinx roles (``:func:`x```) as plain code.

The docstrings are written for ``help()`` and IDEs as well as for the API
reference; mkdocstrings renders their Markdown but leaves reST roles such as
``:func:`autoaudit.actor``` as text. This turns each into the code span it
names (``~a.b.c`` shows as ``c``, as in Sphinx).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc):<code>(~?)([^<]+)</code>")


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_code, html)
