"""Smoke test of ``example_project``: it migrates, loads its demo data and
serves its pages, with autoaudit recording what happens.

Everything runs in subprocesses against a throw-away SQLite file
(``EXAMPLE_DB_PATH``), so the example's settings never mix with the test
suite's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"

# Runs inside the example project (its settings, its database) and drives it
# with Django's test client, CSRF checks on.
CLIENT_SCRIPT = """
import sys

sys.path.insert(0, sys.argv[1])
import django

django.setup()

from django.test import Client

from autoaudit.models import ActivityLog
from core.models import ContactMessage, Product

laptop = Product.objects.get(sku="ASUS-ROG-G15")
client = Client(enforce_csrf_checks=True)


def token():
    return client.cookies["csrftoken"].value


response = client.get("/")
assert response.status_code == 200, response.status_code
assert "Laptop ASUS ROG" in response.text
response = client.get(f"/products/{laptop.pk}/")
assert response.status_code == 200, response.status_code
assert client.get("/cart/").status_code == 200
assert client.get("/accounts/login/").status_code == 200

# A guest sends the contact form: logged with the message's email.
assert client.get("/contact/").status_code == 200
response = client.post(
    "/contact/",
    {
        "csrfmiddlewaretoken": token(),
        "name": "Budi Santoso",
        "email": "budi@example.com",
        "phone": "+628111222333",
        "message": "Halo, apakah laptop ini masih ada?",
    },
)
assert response.status_code == 302, response.status_code
message = ContactMessage.objects.get(email="budi@example.com")
log = ActivityLog.objects.for_instance(message).get()
assert (log.action, log.actor_type) == ("create", "guest"), log
assert log.actor_identifier == "budi@example.com", log.actor_identifier
assert log.actor_name == "Budi Santoso", log.actor_name

# A guest adds to the cart twice: the view creates the session, and both
# logs (create, then quantity update) name the guest by that session.
for _ in range(2):
    response = client.post(f"/cart/add/{laptop.pk}/", {"csrfmiddlewaretoken": token()})
    assert response.status_code == 302, response.status_code
update_log, create_log = ActivityLog.objects.for_model("orders.CartItem")[:2]
assert (create_log.action, update_log.action) == ("create", "update")
assert update_log.changed_fields == ["quantity"], update_log.changed_fields
assert create_log.actor_type == update_log.actor_type == "guest"
assert create_log.actor_identifier == update_log.actor_identifier
assert create_log.actor_identifier not in (None, "127.0.0.1"), create_log.actor_identifier
# The cart item's own session_key field is a credential: masked by default,
# in its values and everywhere else in the table.
assert create_log.new_values["session_key"] == "********", create_log.new_values
session_key = client.session.session_key
assert session_key and session_key not in repr(list(ActivityLog.objects.values()))

# Staff edit a product: an update attributed to the signed-in user.
response = client.post(
    "/accounts/login/",
    {"csrfmiddlewaretoken": token(), "username": "staff", "password": "staff"},
)
assert response.status_code == 302, response.status_code
assert client.get(f"/products/{laptop.pk}/edit/").status_code == 200
response = client.post(
    f"/products/{laptop.pk}/edit/",
    {
        "csrfmiddlewaretoken": token(),
        "name": laptop.name,
        "sku": laptop.sku,
        "price": "13999000",
        "stock": laptop.stock,
        "is_active": "on",
        "description": laptop.description,
        "metadata": '{"brand": "ASUS"}',
    },
)
assert response.status_code == 302, response.status_code
update = ActivityLog.objects.for_instance(laptop).filter(action="update").first()
assert update.actor_type == "user" and update.user.username == "staff", update
assert update.new_values["price"] == "13999000.00", update.new_values
assert "price" in update.changed_fields, update.changed_fields
response = client.get(f"/products/{laptop.pk}/")
assert "History" in response.text

# The Indonesian locale of the example's own strings.
client.cookies["django_language"] = "id"
assert "Tambah ke keranjang" in client.get("/").text

assert ActivityLog.objects.count() > 0
print("pages ok")
"""


def _run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def example_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the example project, its database migrated and loaded."""
    env = {
        **os.environ,
        # pytest-django exported the test suite's settings; use the example's.
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "EXAMPLE_DB_PATH": str(tmp_path_factory.mktemp("example") / "db.sqlite3"),
    }
    _run(["example_project/manage.py", "migrate", "--verbosity", "0"], env)
    demo = _run(["example_project/manage.py", "demo"], env)
    assert "Demo data loaded." in demo.stdout
    return env


def test_demo_is_idempotent(example_env: dict[str, str]) -> None:
    again = _run(["example_project/manage.py", "demo"], example_env)
    assert "nothing to do" in again.stdout
    assert "(0 added by this run)" in again.stdout


def test_checks_and_migrations_from_inside_the_project(
    example_env: dict[str, str],
) -> None:
    _run(["manage.py", "check", "--fail-level", "WARNING"], example_env, cwd=EXAMPLE)
    _run(["manage.py", "makemigrations", "--check", "--dry-run"], example_env, EXAMPLE)


def test_pages_are_served_and_logged(example_env: dict[str, str]) -> None:
    result = _run(["-c", CLIENT_SCRIPT, str(EXAMPLE)], example_env)
    assert "pages ok" in result.stdout


SYSTEM_CHECK = """
import sys

sys.path.insert(0, sys.argv[1])
import django

django.setup()
from autoaudit.models import ActivityLog

logs = ActivityLog.objects.filter(extra_data__source="restock_command")
assert logs.exists(), "restock wrote no log"
assert set(logs.values_list("actor_type", flat=True)) == {"system"}
assert all(log.user_id is None and log.ip_address is None for log in logs)
timeline = ActivityLog.objects.dates("created_at", "day")
assert len(timeline) >= 5, timeline
print("system ok")
"""


def test_a_command_changes_data_as_the_system(example_env: dict[str, str]) -> None:
    result = _run(
        ["example_project/manage.py", "restock", "--below", "100", "--to", "120"], example_env
    )
    assert "Restocked" in result.stdout
    check = _run(["-c", SYSTEM_CHECK, str(EXAMPLE)], example_env)
    assert "system ok" in check.stdout


# The product page's history follows the documented access rules; the shop
# links to the timeline and the privacy page; checkout thanks by number.
ACCESS_SCRIPT = """
import re
import sys

sys.path.insert(0, sys.argv[1])
import django

django.setup()

from django.contrib.auth.models import User
from django.test import Client

import autoaudit
from autoaudit.models import ActivityLog
from core.models import Product

laptop = Product.objects.get(sku="ASUS-ROG-G15")
staff = User.objects.get(username="staff")
admin = User.objects.get(username="admin")
assert not staff.has_perm("autoaudit.view_activitylog")
everyone = ActivityLog.objects.for_instance(laptop)
assert everyone.exclude(user=staff).exists() and everyone.filter(user=staff).exists()


def history_rows(client):
    html = client.get(f"/products/{laptop.pk}/").text
    assert 'href="/activity/core.Product/' in html, "no link to the full history"
    section = html.split('<ul class="history">', 1)[1].split("</ul>", 1)[0]
    return section.count("<li>")


with autoaudit.disabled():
    staff_client = Client()
    staff_client.force_login(staff)
    admin_client = Client()
    admin_client.force_login(admin)
# Staff without the permission: only their own rows (the page's own view
# log included), and the page says so.
own = history_rows(staff_client)
assert own == min(10, ActivityLog.objects.for_instance(laptop).filter(user=staff).count()), own
html = staff_client.get(f"/products/{laptop.pk}/").text
assert "Only your own activity" in html
assert "Created product" not in html  # admin's create of the catalogue
# The superuser: everyone's.
rows = history_rows(admin_client)
assert rows == min(10, ActivityLog.objects.for_instance(laptop).count()) > own, rows
assert "Everyone" in admin_client.get(f"/products/{laptop.pk}/").text

# Links from the shop to the timeline and the privacy page.
home = Client().get("/").text
assert 'href="/activity/"' in home and 'href="/privacy/"' in home

# Checkout: "Your order #N", not "Your order Order #N".
customer = Client()
customer.post(f"/cart/add/{laptop.pk}/")
response = customer.post("/cart/checkout/", {"email": "buyer@example.com"}, follow=True)
assert response.status_code == 200, response.status_code
message = re.search(r"Thank you! Your order [^<]+ was placed.", response.text)
assert message is not None, response.text
assert "Order #" not in message.group(0), message.group(0)
print("access ok")
"""


def test_product_history_follows_the_access_rules(example_env: dict[str, str]) -> None:
    result = _run(["-c", ACCESS_SCRIPT, str(EXAMPLE)], example_env)
    assert "access ok" in result.stdout
