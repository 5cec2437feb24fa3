"""``manage.py demo``: users, a catalogue and a short story of changes.

Safe to run again: users and products are only created when missing, and the
story of changes (price change, restock, orders, a deletion...) runs only on
the run that created the catalogue, so a second run adds no log entries.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import autoaudit
from autoaudit.models import ActivityLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from core.models import ContactMessage, Product
from orders.models import CartItem, Order

USERS: list[dict[str, Any]] = [
    {
        "username": "admin",
        "password": "admin",
        "email": "admin@example.com",
        "is_staff": True,
        "is_superuser": True,
    },
    {
        "username": "staff",
        "password": "staff",
        "email": "staff@example.com",
        "first_name": "Siti",
        "last_name": "Rahma",
        "is_staff": True,
    },
    {
        "username": "john",
        "password": "john",
        "email": "john@example.com",
        "first_name": "John",
        "last_name": "Doe",
    },
]

# (name, sku, price, stock, metadata)
PRODUCTS: list[tuple[str, str, str, int, dict[str, Any]]] = [
    (
        "Laptop ASUS ROG",
        "ASUS-ROG-G15",
        "15000000",
        10,
        {"brand": "ASUS", "specs": {"ram": "16GB", "cpu": "Ryzen 9"}},
    ),
    ("Mouse Logitech MX Master 3S", "LOGI-MX3S", "1500000", 25, {"brand": "Logitech"}),
    ("Keyboard Keychron K2", "KEYC-K2", "1350000", 15, {"brand": "Keychron"}),
    ("Monitor LG UltraGear 27", "LG-27GP850", "5200000", 7, {"brand": "LG"}),
    ("Headphones Sony WH-1000XM5", "SONY-XM5", "5500000", 12, {"brand": "Sony"}),
    ("SSD Samsung 990 Pro 1TB", "SAMS-990P-1T", "2100000", 30, {"brand": "Samsung"}),
    ("Webcam Logitech C920", "LOGI-C920", "1100000", 18, {"brand": "Logitech"}),
    ("Router TP-Link Archer AX55", "TPL-AX55", "1250000", 9, {"brand": "TP-Link"}),
]

DISCONTINUED = ("Flash drive SanDisk 16GB", "SAND-16GB", "85000", 3, {})


class Command(BaseCommand):
    help = "Load demo users, products and a history of changes (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        before = ActivityLog.objects.count()
        users = {spec["username"]: self._user(spec) for spec in USERS}
        with transaction.atomic():
            created = self._catalogue(users["admin"])
            if created:
                self._story(users)
                self._spread_over_days(before)
        added = ActivityLog.objects.count() - before
        if created:
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        else:
            self.stdout.write("Demo data is already in place; nothing to do.")
        self.stdout.write(
            f"Activity log: {ActivityLog.objects.count()} entries ({added} added by this run)."
        )
        self.stdout.write(
            "Log in as admin/admin, staff/staff or john/john at "
            "http://127.0.0.1:8000/accounts/login/"
        )

    def _spread_over_days(self, before: int) -> None:
        """Demo only: date this run's entries over the last ten days, so the
        timeline shows its day groups (Today, Yesterday, This week, ...).
        Real logs are never rewritten; nothing in autoaudit edits them."""
        new_ids = list(ActivityLog.objects.order_by("id").values_list("id", flat=True)[before:])
        now = timezone.now()
        step = timedelta(days=10) / max(len(new_ids), 1)
        for position, log_id in enumerate(new_ids):
            moment = now - step * (len(new_ids) - 1 - position)
            ActivityLog.objects.filter(id=log_id).update(created_at=moment)

    def _user(self, spec: dict[str, Any]) -> AbstractUser:
        User = get_user_model()
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            # Logged as a system "create"; the password hash is masked.
            fields = {k: v for k, v in spec.items() if k != "password"}
            user = User(**fields)
            user.set_password(spec["password"])
            user.save()
        return user

    def _catalogue(self, admin: AbstractUser) -> bool:
        """Create missing products as ``admin``; True if the catalogue was new."""
        new_catalogue = not Product.objects.filter(sku=PRODUCTS[0][1]).exists()
        with autoaudit.actor(user=admin), autoaudit.context(source="demo"):
            for name, sku, price, stock, metadata in PRODUCTS:
                Product.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "name": name,
                        "price": Decimal(price),
                        "stock": stock,
                        "metadata": metadata,
                        "description": f"{name}, original product with warranty.",
                    },
                )
        return new_catalogue

    def _story(self, users: dict[str, AbstractUser]) -> None:
        products = {p.sku: p for p in Product.objects.all()}
        laptop, mouse = products["ASUS-ROG-G15"], products["LOGI-MX3S"]

        # A staff member changes price, stock and a nested JSON key at once:
        # one update log with changed_fields ["price", "stock", "metadata"].
        with (
            autoaudit.actor(user=users["staff"]),
            autoaudit.context(source="admin_panel", reason="price_adjustment"),
        ):
            laptop.price = Decimal("14500000")
            laptop.stock = 8
            laptop.metadata = {
                "brand": "ASUS",
                "specs": {"ram": "32GB", "cpu": "Ryzen 9"},
            }
            laptop.save()

        # No request and no explicit actor: logged as the system.
        with autoaudit.context(source="inventory_sync"):
            mouse.stock = 20
            mouse.save()

        # Created and deleted by the admin: a create and a delete log.
        name, sku, price, stock, metadata = DISCONTINUED
        with autoaudit.actor(user=users["admin"]):
            gone = Product.objects.create(
                name=name, sku=sku, price=Decimal(price), stock=stock, metadata=metadata
            )
            with autoaudit.context(reason="discontinued"):
                gone.delete()

        # A guest sends the contact form: identified by the message's email
        # (ContactMessage's guest_fields).
        with autoaudit.actor(metadata={"source": "landing_page"}):
            ContactMessage.objects.create(
                name="Jane Smith",
                email="guest@example.com",
                phone="+6281234567890",
                message="Interested in your product. Is the laptop still available?",
            )

        # An anonymous visitor fills a cart: identified by the session key.
        guest_session = "demo-guest-session"
        guest = autoaudit.actor(
            identifier=guest_session,
            metadata={
                "session_id": guest_session,
                "device": "mobile",
                "browser": "Chrome",
            },
        )
        with guest:
            CartItem.objects.create(session_key=guest_session, product=mouse, quantity=1)
            item = CartItem.objects.create(
                session_key=guest_session, product=products["KEYC-K2"], quantity=1
            )
            item.quantity = 2
            item.save()

        # John orders; the payment provider marks it paid; staff ship it.
        john = users["john"]
        with autoaudit.actor(user=john):
            items = [
                CartItem.objects.create(session_key="demo-john-session", product=laptop),
                CartItem.objects.create(session_key="demo-john-session", product=mouse, quantity=2),
            ]
            order = Order.objects.create(
                user=john,
                email=john.email,
                total=sum((i.product.price * i.quantity for i in items), Decimal(0)),
            )
            for item in items:
                item.order = order
                item.save(update_fields=["order"])
        with autoaudit.context(source="payment_gateway"):
            order.status = Order.Status.PAID
            order.save()
        with autoaudit.actor(user=users["staff"]):
            order.status = Order.Status.SHIPPED
            order.save()
