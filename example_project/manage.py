#!/usr/bin/env python
"""Command-line entry point of the autoaudit example shop.

Works from the repository root (``python example_project/manage.py ...``) and
from inside ``example_project/``: the directory holding this file is put on
``sys.path`` so ``shop``, ``core`` and ``orders`` import either way.
"""

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent


def main() -> None:
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
