"""What every autoaudit page shares around its content: the way back to the
site that mounted it.

A reusable app cannot know where "the site" is, so the link goes to the
root of the project (the script prefix: ``/``, or the prefix a deployment
under a sub-path gives) unless the project says otherwise, by overriding the
``site_link`` block of ``autoaudit/base.html`` (see the UI guide,
"Restyling and overriding").
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import get_script_prefix


def page_context(request: HttpRequest) -> dict[str, str]:
    """Template variables of ``autoaudit/base.html``: ``autoaudit_site_url``,
    the default target of the "Back to the site" link."""
    return {"autoaudit_site_url": get_script_prefix()}
