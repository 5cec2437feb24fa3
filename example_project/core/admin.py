from autoaudit.admin import ActivityHistoryMixin
from django.contrib import admin

from core.models import ContactMessage, Product


@admin.register(Product)
class ProductAdmin(ActivityHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "sku", "price", "stock", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "sku"]


@admin.register(ContactMessage)
class ContactMessageAdmin(ActivityHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "email", "phone", "created_at"]
    search_fields = ["name", "email"]
