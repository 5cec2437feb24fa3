"""autoaudit's signals: ``pre_log`` (veto or change a log row before it is
written) and ``post_log`` (a row was written and committed).

.. code-block:: python

    from django.dispatch import receiver
    from autoaudit.signals import pre_log, post_log

    @receiver(pre_log)
    def add_tenant(sender, draft, using, **kwargs):
        draft.extra_data = {**(draft.extra_data or {}), "tenant": "acme"}

    @receiver(pre_log, sender=Product)
    def skip_stock_only(sender, draft, using, **kwargs):
        if draft.changed_fields == ["stock"]:
            return False  # veto: the save happens, without a log

See docs/signals.md for what each receives and when it is sent.
"""

from __future__ import annotations

from autoaudit.tracking.hooks import PendingLog, post_log, pre_log
from autoaudit.tracking.record import LogDraft

__all__ = ["LogDraft", "PendingLog", "post_log", "pre_log"]
