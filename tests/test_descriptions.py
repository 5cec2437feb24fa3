from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from autoaudit.models import ActivityLog
from autoaudit.values.descriptions import describe
from tests.testapp.models import Product
from tests.typing_support import Track

pytestmark = pytest.mark.django_db


def descriptions() -> list[str | None]:
    return list(ActivityLog.objects.order_by("id").values_list("description", flat=True))


def test_english_descriptions_use_verbose_names(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="Laptop ASUS ROG", price=15000000, stock=10)
    product.price = 14500000
    product.stock = 8
    product.save()
    product.delete()
    assert descriptions() == [
        'Created product "Laptop ASUS ROG"',
        'Updated product "Laptop ASUS ROG": price 15000000.00 → 14500000.00, stock 10 → 8',
        'Deleted product "Laptop ASUS ROG"',
    ]


def test_indonesian_descriptions_follow_the_design_document(track: Track) -> None:
    track(Product)
    with translation.override("id"):
        product = Product.objects.create(name="Laptop ASUS ROG", stock=10)
        product.stock = 8
        product.save()
        product.delete()
    # Written in the language active at write time, kept as written.
    assert descriptions() == [
        'Membuat product baru: "Laptop ASUS ROG"',
        'Mengubah product "Laptop ASUS ROG": stock 10 → 8',
        'Menghapus product: "Laptop ASUS ROG"',
    ]


def test_long_values_are_shortened_in_the_description(track: Track) -> None:
    track(Product)
    product = Product.objects.create(name="P", description="a")
    product.description = "b" * 500
    product.save()
    text = descriptions()[-1]
    assert text is not None and len(text) < 200
    assert f"a → {'b' * 59}…" in text


def test_per_model_description_override(track: Track) -> None:
    def describe(
        *,
        instance: Product,
        action: str,
        changed_fields: list[str],
        old_values: dict[str, Any] | None,
        new_values: dict[str, Any] | None,
    ) -> str:
        return f"{action}:{instance.name}:{','.join(changed_fields)}"

    track(Product, description=describe)
    product = Product.objects.create(name="P")
    product.stock = 3
    product.save()
    assert descriptions() == ["create:P:", "update:P:stock"]


def test_a_failing_override_falls_back_to_the_default(track: Track) -> None:
    def broken(**kwargs: object) -> str:
        raise ValueError("boom")

    track(Product, description=broken)
    Product.objects.create(name="P")
    assert descriptions() == ['Created product "P"']


@pytest.mark.parametrize(
    ("action", "name", "english", "indonesian"),
    [
        ("create", "Mug", 'Created product "Mug"', 'Membuat produk baru: "Mug"'),
        ("delete", "Mug", 'Deleted product "Mug"', 'Menghapus produk: "Mug"'),
        ("view", "Mug", 'Viewed product "Mug"', 'Melihat produk: "Mug"'),
        ("view", None, "Viewed product", "Melihat produk"),
        ("download", None, "Downloaded product", "Mengunduh produk"),
        ("upload", "Mug", 'Uploaded product "Mug"', 'Mengunggah produk: "Mug"'),
    ],
)
def test_standard_texts_are_translated_when_used(
    action: str, name: str | None, english: str, indonesian: str
) -> None:
    with translation.override("en"):
        assert describe(action, "product", name) == english
    with translation.override("id"):
        assert describe(action, "produk", name) == indonesian


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "Sale", 'Updated product "Mug": note "" → Sale'),
        ("Sale", "", 'Updated product "Mug": note Sale → ""'),
        ("  ", "Sale", 'Updated product "Mug": note "  " → Sale'),
        (None, "Sale", 'Updated product "Mug": note ∅ → Sale'),
    ],
)
def test_an_empty_text_is_visible_not_a_double_space(
    old: str | None, new: str, expected: str
) -> None:
    with translation.override("en"):
        text = describe("update", "product", "Mug", [("note", old, new)])
    assert text == expected
    assert "  →" not in text and "→  " not in text
