from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.cart, name="cart"),
    path("add/<int:product_pk>/", views.add_to_cart, name="add_to_cart"),
    path("remove/<int:item_pk>/", views.remove_from_cart, name="remove_from_cart"),
    path("checkout/", views.checkout, name="checkout"),
]
