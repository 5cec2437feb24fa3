from django import forms

from core.models import ContactMessage, Product


class ContactForm(forms.ModelForm):
    class Meta:
        model = ContactMessage
        fields = ["name", "email", "phone", "message"]
        widgets = {"message": forms.Textarea(attrs={"rows": 5})}


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = [
            "name",
            "sku",
            "price",
            "stock",
            "is_active",
            "description",
            "metadata",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
