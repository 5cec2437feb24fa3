"""Log rows for the timeline, admin and browser tests, with chosen times.

``created_at`` is ``auto_now_add``, so rows are inserted first and their
times set afterwards with ``bulk_update`` (which does not call ``pre_save``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from autoaudit.models import ActivityLog


def _defaults(user: Any, index: int) -> dict[str, Any]:
    if user is not None:
        name = user.get_full_name() or user.get_username()
        actor = {
            "user": user,
            "actor_type": "user",
            "actor_identifier": user.email or user.get_username(),
            "actor_name": name,
        }
    else:
        actor = {
            "actor_type": "guest",
            "actor_identifier": f"guest{index}@example.com",
            "actor_name": "Jane Guest",
        }
    return {
        **actor,
        "action": "update",
        "entity": "product",
        "computed_entity": "testapp.Product",
        "entity_id": 100 + index,
        "entity_pk": str(100 + index),
        "entity_name": f"Product {index}",
        "old_values": {"price": "10.00"},
        "new_values": {"price": "12.50"},
        "changed_fields": ["price"],
        "description": f'Updated product "Product {index}"',
    }


def make_logs(
    count: int,
    *,
    user: Any = None,
    start: datetime | None = None,
    step: timedelta = timedelta(minutes=1),
    **fields: Any,
) -> list[ActivityLog]:
    """``count`` rows, the first at ``start`` (default: now), each ``step``
    older than the one before; ``fields`` override the defaults."""
    start = start or timezone.now()
    logs = [ActivityLog(**{**_defaults(user, i), **fields}) for i in range(count)]
    logs = ActivityLog.objects.bulk_create(logs)
    if not all(log.pk for log in logs):  # MySQL does not return bulk ids
        logs = list(ActivityLog.objects.order_by("-id")[:count])[::-1]
    for i, log in enumerate(logs):
        log.created_at = start - step * i
    ActivityLog.objects.bulk_update(logs, ["created_at"])
    return logs


def make_log(*, user: Any = None, at: datetime | None = None, **fields: Any) -> ActivityLog:
    return make_logs(1, user=user, start=at, **fields)[0]


def seed_showcase(
    admin_user: User, other_user: Any, now: datetime | None = None
) -> list[ActivityLog]:
    """A realistic mix for the browser tests and screenshots: users, guests
    and the system; creates, updates (nested JSON too), deletes and logins,
    spread over today, yesterday, this week and earlier."""
    now = now or timezone.now()
    guest = {
        "actor_type": "guest",
        "actor_identifier": "jane@example.com",
        "actor_name": "Jane Smith",
        "actor_metadata": {"session_id": "sess_abc123", "device": "mobile"},
    }
    system = {"actor_type": "system", "actor_identifier": None, "actor_name": None}
    rows: list[tuple[timedelta, Any, dict[str, Any]]] = [
        (
            timedelta(minutes=4),
            admin_user,
            {
                "entity_name": "Laptop ASUS ROG",
                "old_values": {"price": "15000000.00", "stock": 10},
                "new_values": {"price": "14500000.00", "stock": 8},
                "changed_fields": ["price", "stock"],
                "description": 'Updated product "Laptop ASUS ROG": price, stock',
            },
        ),
        (
            timedelta(minutes=35),
            None,
            {
                **guest,
                "action": "create",
                "entity": "contactmessage",
                "computed_entity": "testapp.ContactMessage",
                "entity_name": "Message from Jane Smith",
                "old_values": None,
                "new_values": {
                    "name": "Jane Smith",
                    "email": "j***e@example.com",
                    "message": "Interested in your product",
                },
                "changed_fields": None,
                "description": 'Created contact message "Message from Jane Smith"',
            },
        ),
        (
            timedelta(hours=2),
            other_user,
            {
                "entity_name": "Mechanical keyboard",
                "old_values": {"metadata": {"specs": {"ram": "8GB", "switch": "red"}}},
                "new_values": {"metadata": {"specs": {"ram": "16GB", "switch": "brown"}}},
                "changed_fields": ["metadata"],
                "description": 'Updated product "Mechanical keyboard": metadata',
            },
        ),
        (
            timedelta(hours=3),
            other_user,
            {
                "action": "login",
                "entity": "user",
                "computed_entity": "auth.User",
                "entity_name": other_user.get_username(),
                "old_values": None,
                "new_values": None,
                "changed_fields": None,
                "description": "Logged in",
            },
        ),
        (
            timedelta(days=1, hours=1),
            None,
            {
                **system,
                "action": "delete",
                "entity_name": "USB cable",
                "old_values": {"name": "USB cable", "price": "25000.00", "stock": 0},
                "new_values": None,
                "changed_fields": None,
                "description": 'Deleted product "USB cable"',
            },
        ),
        (
            timedelta(days=1, hours=5),
            admin_user,
            {
                "entity_name": "Wireless mouse",
                "old_values": {"name": "Wireles mouse", "is_active": False},
                "new_values": {"name": "Wireless mouse", "is_active": True},
                "changed_fields": ["name", "is_active"],
                "description": 'Updated product "Wireless mouse": name, is active',
            },
        ),
        (
            timedelta(days=3),
            None,
            {
                **guest,
                "actor_identifier": "203.0.113.200",
                "actor_name": None,
                "action": "create",
                "entity": "cartitem",
                "computed_entity": "orders.CartItem",
                "entity_name": "Add to cart",
                "old_values": None,
                "new_values": {"product_id": 123, "quantity": 2},
                "changed_fields": None,
                "description": "Added a product to the cart",
            },
        ),
        (
            timedelta(days=12),
            admin_user,
            {
                "action": "create",
                "entity_name": "Laptop ASUS ROG",
                "old_values": None,
                "new_values": {"name": "Laptop ASUS ROG", "price": "15000000.00", "stock": 10},
                "changed_fields": None,
                "description": 'Created product "Laptop ASUS ROG"',
            },
        ),
    ]
    logs = []
    for age, user, fields in rows:
        logs.append(make_log(user=user, at=now - age, **fields))
    return logs


def login(client: Client, user: Any) -> Any:
    """Log ``client`` in as ``user`` without writing a "login" row."""
    import autoaudit

    with autoaudit.disabled():
        client.force_login(user)
    return client
