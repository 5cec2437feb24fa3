"""The activity timeline page: access, groups, actors, changes, templates."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation
from pytest_django import Settings

import autoaudit
from autoaudit.models import ActivityLog
from tests.testapp.models import Account, Product
from tests.typing_support import Track
from tests.ui_factories import login, make_log, make_logs

pytestmark = pytest.mark.django_db


URL = "/activity/"


@pytest.fixture
def alice() -> User:
    return User.objects.create_user(
        "alice", "alice@example.com", "x", first_name="Alice", last_name="Smith"
    )


def entry_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-aa-entry="(\d+)"', html)]


def test_url_names() -> None:
    assert reverse("autoaudit:timeline") == URL
    assert (
        reverse("autoaudit:object_history", kwargs={"label": "testapp.Product", "pk": "7"})
        == "/activity/testapp.Product/7/"
    )


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/activity/")
    response = client.get("/activity/testapp.Product/1/")
    assert response.status_code == 302


def test_a_user_sees_only_their_own_activity(client: Client, alice: User, bob: User) -> None:
    mine = make_logs(3, user=alice, entity_name="Alice's laptop")
    make_logs(2, user=bob, entity_name="Bob's phone")
    make_logs(2, entity_name="Guest cart")
    response = login(client, alice).get(URL)
    assert response.status_code == 200
    html = response.text
    assert sorted(entry_ids(html)) == sorted(log.pk for log in mine)
    assert "Alice&#x27;s laptop" in html
    assert "Bob" not in html and "Guest cart" not in html
    assert "Your activity" in html
    assert 'class="aa-stats"' not in html  # the dashboard is for who sees all


def test_the_view_permission_shows_everyone(client: Client, root: User, bob: User) -> None:
    make_logs(2, user=bob)
    make_logs(2)
    response = login(client, root).get(URL)
    assert len(entry_ids(response.text)) == 4
    assert "Everyone\u2019s activity" in response.text
    assert 'class="aa-stats"' in response.text


def test_newest_first_grouped_by_day(client: Client, root: User, midday: None) -> None:
    now = timezone.localtime()
    old = make_log(at=now - timedelta(days=40), entity_name="ancient")
    yesterday = make_log(at=now - timedelta(days=1), entity_name="from yesterday")
    today = make_log(at=now - timedelta(minutes=5), entity_name="from today")
    html = login(client, root).get(URL).text
    assert entry_ids(html) == [today.pk, yesterday.pk, old.pk]
    headings = re.findall(r'<h2 class="aa-day-heading">([^<]+)</h2>', html)
    assert headings[:2] == ["Today", "Yesterday"]
    assert headings[-1] == formats.date_format((now - timedelta(days=40)).date(), "DATE_FORMAT")
    assert re.findall(r'data-aa-group="([^"]+)"', html)[:2] == ["today", "yesterday"]


def test_relative_time_with_exact_time_on_hover(client: Client, root: User) -> None:
    at = timezone.now() - timedelta(hours=2, minutes=3)
    make_log(at=at)
    html = login(client, root).get(URL).text
    match = re.search(
        r'<time class="aa-time" datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html
    )
    assert match is not None
    assert match.group(3) == "2\xa0hours ago"
    local = timezone.localtime(at)
    assert match.group(2) == formats.date_format(local, "DATETIME_FORMAT")
    assert match.group(1).startswith(local.strftime("%Y-%m-%dT%H:%M"))


def test_actors_badges_and_guest_identifier(client: Client, root: User, alice: User) -> None:
    make_log(user=alice)
    make_log(actor_identifier="+6281234567890", actor_name="Budi")
    make_log(actor_type="system", actor_identifier=None, actor_name=None)
    html = login(client, root).get(URL).text
    assert '<span class="aa-badge aa-badge--user">User</span>' in html
    assert '<span class="aa-badge aa-badge--guest">Guest</span>' in html
    assert '<span class="aa-badge aa-badge--system">System</span>' in html
    assert "Alice Smith" in html and ">AS<" in html  # full name, initials
    assert "Budi" in html and '<span class="aa-identifier">+6281234567890</span>' in html
    assert ">System<" in html


def test_changes_old_to_new_with_the_change_marked(client: Client, root: User) -> None:
    make_log(
        old_values={"price": "15000000", "metadata": {"specs": {"ram": "8GB", "cpu": "i7"}}},
        new_values={"price": "14500000", "metadata": {"specs": {"ram": "16GB", "cpu": "i7"}}},
        changed_fields=["price", "metadata"],
    )
    html = login(client, root).get(URL).text
    assert '<th scope="row">price</th>' in html
    assert '<th scope="row">metadata.specs.ram</th>' in html
    assert "metadata.specs.cpu" not in html  # unchanged nested key
    old = re.search(r'<td class="aa-old">(.*?)</td>', html, re.S)
    new = re.search(r'<td class="aa-new">(.*?)</td>', html, re.S)
    assert old is not None and new is not None
    assert "<mark>" in old.group(1) and "<mark>" in new.group(1)
    assert re.sub("<[^>]+>", "", old.group(1)) == "15000000"
    assert re.sub("<[^>]+>", "", new.group(1)) == "14500000"


def test_create_and_delete_show_their_values(client: Client, root: User) -> None:
    make_log(action="create", old_values=None, new_values={"name": "Mouse"}, changed_fields=None)
    make_log(action="delete", old_values={"name": "Cable"}, new_values=None, changed_fields=None)
    html = login(client, root).get(URL).text
    assert html.count('<details class="aa-snapshot">') == 2
    assert "aa-change--added" in html and "aa-change--removed" in html
    assert "Mouse" in html and "Cable" in html


def test_values_are_escaped(client: Client, root: User) -> None:
    make_log(
        entity_name="<script>alert(1)</script>",
        description="<b>bold</b>",
        old_values={"name": "<i>a</i>"},
        new_values={"name": "<i>b</i>"},
        changed_fields=["name"],
    )
    html = login(client, root).get(URL).text
    assert "<script>alert" not in html and "<b>bold" not in html and "<i>a" not in html
    assert "&lt;script&gt;" in html


def test_masked_values_stay_masked(client: Client, track: Track, root: User) -> None:
    track(Account)
    with autoaudit.actor(user=root):
        account = Account.objects.create(username="carol", password="hunter2", api_key="sk-123")
        account.password = "correct horse"
        account.save()
    html = login(client, root).get(URL).text
    assert "hunter2" not in html and "correct horse" not in html and "sk-123" not in html
    assert "********" in html


def test_real_tracked_changes_render(client: Client, track: Track, root: User) -> None:
    track(Product)
    with autoaudit.actor(user=root):
        product = Product.objects.create(name="Laptop", price="10.00", metadata={"ram": 8})
        product.metadata = {"ram": 16}
        product.price = "9.50"
        product.save()
    html = login(client, root).get(URL).text
    assert '<th scope="row">metadata.ram</th>' in html and '<th scope="row">price</th>' in html
    history = reverse(
        "autoaudit:object_history", kwargs={"label": "testapp.Product", "pk": str(product.pk)}
    )
    assert f'href="{history}"' in html


def test_empty_states(client: Client, alice: User) -> None:
    login(client, alice)
    assert "You have no activity yet." in client.get(URL).text
    make_log(user=alice, action="update")
    assert "No activity matches these filters." in client.get(URL + "?action=delete").text


def test_partial_responses_for_infinite_scroll(client: Client, root: User) -> None:
    make_logs(3)
    login(client, root)
    response = client.get(URL, headers={"X-Autoaudit-Partial": "1"})
    assert response.status_code == 200
    assert "<html" not in response.text and "aa-filters" not in response.text
    assert len(entry_ids(response.text)) == 3
    assert "X-Autoaudit-Partial" in response["Vary"]


def test_never_cached(client: Client, root: User) -> None:
    response = login(client, root).get(URL)
    assert "no-cache" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_page_is_standalone_with_static_assets(client: Client, root: User) -> None:
    html = login(client, root).get(URL).text
    assert '<meta name="viewport"' in html
    assert "/static/autoaudit/autoaudit.css" in html
    assert "/static/autoaudit/timeline.js" in html


def test_templates_can_be_overridden(
    client: Client, root: User, settings: Settings, tmp_path: Path
) -> None:
    override = tmp_path / "autoaudit" / "includes"
    override.mkdir(parents=True)
    (override / "entry.html").write_text('<li data-aa-entry="{{ entry.log.pk }}">CUSTOM</li>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    make_logs(2)
    html = login(client, root).get(URL).text
    assert html.count("CUSTOM") == 2


def test_indonesian_headings_and_times(
    client: Client, root: User, settings: Settings, midday: None
) -> None:
    settings.LANGUAGE_CODE = "id"
    now = timezone.now()
    make_log(at=now - timedelta(hours=2, minutes=1))
    make_log(at=now - timedelta(days=1))
    login(client, root)
    with translation.override("id"):
        html = client.get(URL).text
    headings = re.findall(r'<h2 class="aa-day-heading">([^<]+)</h2>', html)
    assert headings[:2] == ["Hari ini", "Kemarin"]
    assert "2\xa0jam yang lalu" in html
    assert ">Pengguna<" in html  # the User badge


def test_logs_exist_only_from_the_factories(alice: User) -> None:
    # The test client's login is not logged (autoaudit.disabled()).
    login(Client(), alice)
    assert ActivityLog.objects.count() == 0
