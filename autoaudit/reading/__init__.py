"""Reading logged changes back: what they mean, in words (:mod:`.display`).

Below :mod:`autoaudit.models` (whose ``changes_display()`` calls it) and
above :mod:`autoaudit.tracking` (whose registry knows what is masked).
Not called ``history``: that is the name of ``autoaudit.history(obj)``.
"""
