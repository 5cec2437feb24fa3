from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from autoaudit.models import ActivityLog
from autoaudit.values.descriptions import MAX_DESCRIBED, change_triples, describe
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


def test_json_changes_are_described_by_their_paths() -> None:
    old = {"price": "10", "metadata": {"specs": {"ram": "32GB", "cpu": "i7"}, "old": 1}}
    new = {"price": "12", "metadata": {"specs": {"ram": "64GB", "cpu": "i7"}, "new": [1]}}
    triples = change_triples({"price": "price"}, ["price", "metadata"], old, new)
    text = describe("update", "product", "Mug", triples)
    assert text == (
        'Updated product "Mug": price 10 → 12, metadata.new ∅ → [1], '
        "metadata.old 1 → ∅, metadata.specs.ram 32GB → 64GB"
    )
    # Many-to-many pk lists, a value replaced whole, masked values: not split.
    assert change_triples({}, ["tags"], {"tags": [1]}, {"tags": [1, 2]}, whole=["tags"]) == [
        ("tags", [1], [1, 2])
    ]
    assert change_triples({}, ["m"], {"m": None}, {"m": {"a": 1}}) == [("m", None, {"a": 1})]
    assert change_triples({}, ["m"], {"m": "********"}, {"m": "********"}) == [
        ("m", "********", "********")
    ]
    assert change_triples({}, ["m"], {"m": [1, 2]}, {"m": [1, 3]}) == [("m[1]", 2, 3)]
    # A list that grew or shrank is shown whole (found without deepdiff).
    assert change_triples({}, ["m"], {"m": [1]}, {"m": [1, 2]}) == [("m", [1], [1, 2])]


def test_a_description_names_at_most_max_described_changes() -> None:
    many = [(f"f{i}", i, i + 1) for i in range(MAX_DESCRIBED + 3)]
    text = describe("update", "product", "Mug", many)
    assert text.count("→") == MAX_DESCRIBED
    assert text.endswith(", …")
