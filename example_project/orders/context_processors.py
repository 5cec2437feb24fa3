from typing import Any

from django.http import HttpRequest

from orders.models import CartItem


def cart(request: HttpRequest) -> dict[str, Any]:
    """The number of items in the visitor's open cart, for the header."""
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if not key:
        return {"cart_count": 0}
    items = CartItem.objects.filter(session_key=key, order__isnull=True)
    return {"cart_count": sum(items.values_list("quantity", flat=True))}
