"""The tracking core: from a write on a registered model to its log row.

``registry`` (pure state) -> ``signals`` and ``patches`` (every receiver and
every patch) -> ``snapshot`` (the frame of a save, old values, what changed)
and ``rows`` (clean, locking reads) -> ``record`` (the one assembler: a
frozen draft, masked) -> ``store`` (the one writer); ``atomic`` holds the
change and its log in one transaction. ``bulk``, ``deletes``, ``m2m`` and
``manual`` feed the same assembler. See ``docs/internals.md``.
"""
