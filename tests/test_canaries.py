"""The canary fuzz test (issue 13): nothing sensitive reaches any column.

Random canary values go into secret fields (every common name, see
``Vault``), into secret keys at random depths of JSON values, ``context()``,
``actor(metadata=...)``, the manual helpers' arguments, the request's
referrer query string and (as a secret of the instance) its User-Agent.
They are written through every write path, by a user and by a guest. Then
a raw scan of the whole table, every column of every row as the database
returns it, must find none of them.

The seed is fixed and the size bounded (``AUTOAUDIT_CANARY_ROUNDS`` rounds,
default 6): CI runs it on every database.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import RequestFactory

import autoaudit
from autoaudit.actors.request import using_request
from autoaudit.models import ActivityLog
from autoaudit.tracking.manual import log_event
from tests.testapp.models import VAULT_SECRETS, ContactMessage, Tag, Vault
from tests.typing_support import Track

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 1313
ROUNDS = int(os.environ.get("AUTOAUDIT_CANARY_ROUNDS", "6"))
#: JSON keys (and context/metadata/manual keyword names) that must be masked.
SECRET_KEYS = (
    "password",
    "x-api-key",
    "private-key",
    "card-number",
    "Authorization",
    "cookie",
    "Set-Cookie",
    "token",
    "refresh_token",
    "apiKey",
    "SESSION_ID",
    "sessionKey",
    "pwd",
    "otp",
    "pin",
    "ssn",
    "iban",
    "passphrase",
    "client_secret",
    "accessKey",
    "creditCard",
    "X-Auth-Token",
)
PLAIN_KEYS = ("name", "spinner", "shipping", "color", "items", "notes")


class Canaries:
    """Makes unique random values and remembers them."""

    def __init__(self, rng: random.Random, *, registered: bool = True) -> None:
        self.rng = rng
        self.made: list[str] = []
        #: ``memo`` is masked (``exclude``) only where ``Vault`` is registered.
        self.registered = registered

    def __call__(self) -> str:
        value = f"cnry{self.rng.getrandbits(64):016x}"
        self.made.append(value)
        return value

    def nested(self) -> Any:
        """A JSON value with a canary under a secret key at a random depth,
        among plain values."""
        value: Any = {self.rng.choice(SECRET_KEYS): self()}
        for _ in range(self.rng.randint(0, 5)):
            if self.rng.random() < 0.3:
                value = [self.rng.randint(0, 9), value]
            else:
                value = {self.rng.choice(PLAIN_KEYS): value, "n": self.rng.randint(0, 9)}
        return value

    def memo(self) -> str:
        """A value for ``memo``: a canary where it is masked."""
        return self() if self.registered else "plain memo"

    def vault(self) -> dict[str, Any]:
        """Field values for a ``Vault``: a canary in every secret field."""
        values: dict[str, Any] = {name: self() for name in VAULT_SECRETS}
        values["label"] = f"vault-{self.rng.randint(0, 10**6)}"
        values["memo"] = self.memo()
        values["spinner"] = "spins"
        values["data"] = {"plain": 1, "deep": self.nested()}
        return values


Path = Callable[[Canaries], None]


def _create(c: Canaries) -> None:
    Vault.objects.create(**c.vault())


def _update_other_field(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    vault.label = "renamed"
    vault.save()


def _update_secrets(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    for name, value in c.vault().items():
        setattr(vault, name, value)
    vault.save()


def _update_json(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    vault.data = {"plain": 2, "deep": c.nested(), "more": c.nested()}
    vault.save(update_fields=["data"])


def _queryset_update(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    Vault.objects.filter(pk=vault.pk).update(label="bulk renamed")
    Vault.objects.filter(pk=vault.pk).update(pin=c(), creditCard=c(), data=c.nested())
    Vault.objects.filter(pk=vault.pk).update(memo=c.memo(), label="memo changed")


def _bulk_create(c: Canaries) -> None:
    Vault.objects.bulk_create([Vault(**c.vault()) for _ in range(3)])


def _bulk_update(c: Canaries) -> None:
    vaults = [Vault.objects.create(**c.vault()) for _ in range(2)]
    for vault in vaults:
        vault.label = "bulk"
        vault.otp = c()
        vault.memo = c.memo()
        vault.data = c.nested()
    Vault.objects.bulk_update(vaults, ["label", "otp", "memo", "data"])


def _links(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    vault.tags.add(tags[0], tags[1])
    vault.tags.remove(tags[0])
    vault.tags.set([tags[2]])
    vault.tags.clear()
    tags[1].vaults.add(vault)
    tags[1].delete()


def _deletes(c: Canaries) -> None:
    Vault.objects.create(**c.vault()).delete()
    vault = Vault.objects.create(**c.vault())
    Vault.objects.filter(pk=vault.pk).delete()


def _scopes(c: Canaries) -> None:
    with (
        autoaudit.context(api_key=c(), source="import", nested={"token": c()}),
        autoaudit.actor(metadata={"token": c(), "Authorization": f"Bearer {c()}"}),
    ):
        vault = Vault.objects.create(**c.vault())
        vault.label = "in scope"
        vault.save()


def _user_agent(c: Canaries) -> None:
    """A secret of the instance that also travels in the User-Agent."""
    values = c.vault()
    request = RequestFactory().get("/", HTTP_USER_AGENT=f"Bot/1.0 ({values['pwd']})")
    request.user = AnonymousUser()
    with using_request(request):
        Vault.objects.create(**values)


def _guest_fields(c: Canaries) -> None:
    """A guest named by masked fields of what they saved."""
    ContactMessage.objects.create(
        name="A guest", email=f"{c()}@example.com", phone=c(), message="hello"
    )


def _log_activity(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    pin = c()
    autoaudit.log_activity(
        None,
        "update",
        "testapp.Vault",
        entity_id=vault.pk,
        entity_name=f"vault with pin {pin}",
        old_values={"pin": c(), "label": "a", "data": c.nested()},
        new_values={"pin": pin, "label": "b", "memo": c.memo()},
        changed_fields=["pin", "label"],
        extra_data={"Authorization": f"Bearer {c()}", "plain": {"cookie": c()}},
        token=c(),
        sessionKey=c(),
    )


def _log_model_change(c: Canaries) -> None:
    old = Vault.objects.create(**c.vault())
    new = Vault.objects.get(pk=old.pk)
    for name, value in c.vault().items():
        setattr(new, name, value)
    autoaudit.log_model_change(None, new, "update", old_instance=old)
    autoaudit.log_model_change(None, new, "create")
    autoaudit.log_model_change(None, new, "delete")


def _create_for_instance(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    ActivityLog.create_for_instance(vault, "view")
    ActivityLog.create_for_instance(
        vault,
        "update",
        old_values={"pwd": c(), "label": "x"},
        new_values={"pwd": c(), "data": c.nested()},
        extra_data={"x-api-key": c()},
        actor_metadata={"cookie": c()},
    )


def _view_event(c: Canaries) -> None:
    vault = Vault.objects.create(**c.vault())
    log_event("view", instance=vault, extra={"token": c()})
    log_event("download", model=Vault, pk=vault.pk, extra={"private-key": c()})


def _failed_login(c: Canaries) -> None:
    authenticate(None, username="nobody", password=c())


PATHS: dict[str, Path] = {
    "create": _create,
    "update another field": _update_other_field,
    "update the secrets": _update_secrets,
    "update a JSON value": _update_json,
    "QuerySet.update": _queryset_update,
    "bulk_create": _bulk_create,
    "bulk_update": _bulk_update,
    "M2M add/remove/set/clear, target delete": _links,
    "delete, QuerySet.delete": _deletes,
    "context() and actor(metadata=)": _scopes,
    "a secret in the User-Agent": _user_agent,
    "guest_fields that are masked": _guest_fields,
    "log_activity": _log_activity,
    "log_model_change": _log_model_change,
    "create_for_instance": _create_for_instance,
    "view and download events": _view_event,
    "failed login": _failed_login,
}
#: The paths that log a model that is not registered (with the global masks).
MANUAL_PATHS = frozenset(
    {
        "log_activity",
        "log_model_change",
        "create_for_instance",
        "view and download events",
        "failed login",
    }
)


@contextmanager
def _visitor(c: Canaries, kind: str, user: User) -> Iterator[None]:
    """The current request: a user's or a guest's, with a canary in the
    referrer's query string and a secret of the next instance in the UA."""
    referrer = f"https://shop.test/cart?token={c()}&step=2#frag-{c()}"
    request = RequestFactory().get(
        "/vault/",
        HTTP_REFERER=referrer,
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        REMOTE_ADDR="203.0.113.9",
    )
    session = SessionStore()
    session.create()
    request.session = session
    request.user = user if kind == "user" else AnonymousUser()
    with using_request(request):
        yield


def raw_table_text() -> list[tuple[str, str]]:
    """Every column of every row of ``activity_logs``, as the database
    returns it: ``(column, text)`` pairs."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name('activity_logs')}")
        names = [column[0] for column in cursor.description]
        return [
            (f"{name} of a {row[names.index('action')]}", repr(value))
            for row in cursor.fetchall()
            for name, value in zip(names, row, strict=True)
        ]


def _leaks(made: list[str]) -> list[str]:
    """Where each canary found in the table is, as ``"canary in column"``."""
    cells = raw_table_text()
    return [f"{value} in {column}" for value in made for column, text in cells if value in text]


def _run(track: Track, *, registered: bool) -> tuple[int, int, list[str]]:
    rng = random.Random(SEED + registered)
    canaries = Canaries(rng, registered=registered)
    user = User.objects.create_user("canary-user", "user@example.com", "x")
    if registered:
        track(
            Vault,
            mask_fields={"memo": "exclude", "pin": "partial", "otp": "hash"},
            m2m_fields=["tags"],
        )
        track(
            ContactMessage,
            mask_fields={"email": "hash", "phone": "exclude"},
            guest_fields={"email": "email", "phone": "phone", "name": "name"},
        )
    for round_number in range(ROUNDS):
        for name, path in rng.sample(sorted(PATHS.items()), len(PATHS)):
            if not registered and name not in MANUAL_PATHS:
                continue  # only the manual helpers log an unregistered model
            before = ActivityLog.objects.count()
            kind = "user" if round_number % 2 else "guest"
            with _visitor(canaries, kind, user):
                path(canaries)
            assert ActivityLog.objects.count() > before, f"{name} wrote no log"
    return len(canaries.made), ActivityLog.objects.count(), _leaks(canaries.made)


def test_no_canary_reaches_any_column_of_a_registered_model(track: Track) -> None:
    written, rows, leaks = _run(track, registered=True)
    assert written > 500 and rows > 200
    assert leaks == [], f"{len(leaks)} leaks of {written} canaries in {rows} rows: {leaks[:20]}"


def test_no_canary_reaches_any_column_of_an_unregistered_model(track: Track) -> None:
    written, rows, leaks = _run(track, registered=False)
    assert written > 200 and rows > 50
    assert leaks == [], f"{len(leaks)} leaks of {written} canaries in {rows} rows: {leaks[:20]}"
