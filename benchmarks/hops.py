#!/usr/bin/env python
"""Which of autoaudit's modules one tracked write passes through, and how often
control crosses from one of them to another.

    python benchmarks/hops.py            # a tracked update on SQLite (in memory)
    python benchmarks/hops.py --op create

Every Python call made during one ``save()`` is traced (``sys.setprofile``);
a call into an autoaudit module from different code (Django's or another
autoaudit module's) counts as a hop. Calls within one module do not. The
first save of the model is made untraced, so caches are warm as in a
running process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["AUTOAUDIT_TEST_DB"] = "sqlite"


def _module(frame: Any) -> str:
    return str(frame.f_globals.get("__name__", "?"))


def trace(action: Any) -> tuple[list[str], int, Counter[tuple[str, str]]]:
    """Run ``action`` traced: (modules entered in order, hops, hop counts)."""
    seen: list[str] = []
    hops: Counter[tuple[str, str]] = Counter()

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame)
        if not callee.startswith("autoaudit"):
            return
        caller = _module(frame.f_back) if frame.f_back is not None else "?"
        if caller == callee:
            return
        if callee not in seen:
            seen.append(callee)
        hops[(caller if caller.startswith("autoaudit") else "django", callee)] += 1

    sys.setprofile(profiler)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen, sum(hops.values()), hops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", choices=["update", "create"], default="update")
    args = parser.parse_args()

    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = ":memory:"
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, run_syncdb=True)
    import autoaudit
    from tests.testapp.models import Product

    autoaudit.register(Product)
    product = Product.objects.create(name="Warm", price="1.00", stock=1)
    product.stock = 2
    product.save()

    def update() -> None:
        product.stock += 1
        product.save()

    def create() -> None:
        Product.objects.create(name="Traced", price="2.00", stock=3)

    seen, total, hops = trace(update if args.op == "update" else create)
    print(
        f"tracked {args.op}: {len(seen)} autoaudit modules, {len(hops)} distinct hops "
        f"(caller -> callee module), {total} calls across modules"
    )
    for module in seen:
        print(f"  {module}")
    print("hops (caller -> callee: count):")
    for (caller, callee), n in sorted(hops.items(), key=lambda item: -item[1]):
        print(f"  {caller} -> {callee}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
