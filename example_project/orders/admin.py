from autoaudit.admin import ActivityHistoryMixin
from django.contrib import admin

from orders.models import CartItem, Order


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(ActivityHistoryMixin, admin.ModelAdmin):
    list_display = ["__str__", "user", "email", "status", "total", "created_at"]
    list_filter = ["status"]
    inlines = [CartItemInline]


@admin.register(CartItem)
class CartItemAdmin(admin.ModelAdmin):
    list_display = ["__str__", "session_key", "order"]
    raw_id_fields = ["product", "order"]
