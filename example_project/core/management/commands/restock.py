"""Top up low stock: a job with no request and no user, so autoaudit logs
its changes with ``actor_type="system"``."""

from __future__ import annotations

from typing import Any

import autoaudit
from django.core.management.base import BaseCommand, CommandParser

from core.models import Product


class Command(BaseCommand):
    help = "Raise the stock of every product below --below to --to (logged as the system)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--below", type=int, default=10)
        parser.add_argument("--to", type=int, default=25)

    def handle(self, *args: Any, **options: Any) -> None:
        below, target = options["below"], options["to"]
        if target < below:
            self.stderr.write("--to must be at least --below.")
            raise SystemExit(2)
        changed = 0
        with autoaudit.context(source="restock_command"):
            for product in Product.objects.filter(stock__lt=below):
                product.stock = target
                product.save(update_fields=["stock"])
                changed += 1
        self.stdout.write(f"Restocked {changed} product(s) to {target}.")
