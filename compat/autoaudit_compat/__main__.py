"""Entry point: ``python -m autoaudit_compat <runtests.py arguments>``."""

from __future__ import annotations

if __name__ == "__main__":
    from autoaudit_compat.suite import main

    main()
