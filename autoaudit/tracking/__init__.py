"""The tracking core: from a write on a registered model to its log row.

``registry`` (pure state) -> ``signals`` and ``patches`` (every receiver and
every patch of Django internals) -> ``snapshot`` (old values, what changed)
-> ``record`` (the one assembler: a frozen draft, masked) -> ``store`` (the
one writer). ``bulk``, ``m2m`` and ``manual`` feed the same assembler. See
``docs/internals.md``.
"""
