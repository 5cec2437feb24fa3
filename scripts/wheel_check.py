"""Build autoaudit's sdist and wheel, install the wheel into a clean venv and
wire it into a brand-new ``django-admin startproject``.

    python3 scripts/wheel_check.py [--python PYTHON] [--keep]

Checks, in order (each step prints its time):

1. ``python -m build`` (in its own venv) makes an sdist and, from it, a
   wheel; the wheel holds the templates, static files, both locale files
   (``.po`` and the ``.mo`` compiled from it), the migrations and ``py.typed``, and
   no tests or example project.
2. The wheel installs into a clean venv (its dependencies from the index).
3. ``startproject``, then the README's quickstart: ``autoaudit`` in
   ``INSTALLED_APPS``, ``AuditMiddleware`` after the auth middleware, the
   timeline mounted. ``manage.py check`` reports ``autoaudit.W003`` (no
   login URL yet); with ``LOGIN_URL = "admin:login"`` it passes with
   ``--fail-level WARNING``; ``migrate`` runs; a registered ``auth.User``
   change is logged; the timeline and its JSON endpoint answer.

CI (``.ci/run``) runs it; it needs only the package index.
"""

from __future__ import annotations

import argparse
import gettext
import io
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Files the wheel must hold (paths inside it), beyond the Python modules.
REQUIRED = [
    "autoaudit/py.typed",
    "autoaudit/locale/id/LC_MESSAGES/django.po",
    "autoaudit/locale/id/LC_MESSAGES/django.mo",
    "autoaudit/migrations/__init__.py",
    "autoaudit/migrations/0001_initial.py",
    "autoaudit/templates/autoaudit/base.html",
    "autoaudit/templates/autoaudit/timeline.html",
    "autoaudit/templates/autoaudit/includes/entry.html",
    "autoaudit/templates/admin/autoaudit/object_activity.html",
    "autoaudit/static/autoaudit/autoaudit.css",
    "autoaudit/static/autoaudit/timeline.js",
    "autoaudit/management/commands/autoaudit_prune.py",
    "autoaudit/contrib/rest_framework.py",
]
#: Top-level directories that must not be in the wheel.
FORBIDDEN = ("tests/", "example_project/", "compat/", "benchmarks/", "docs/", "scripts/")

SETTINGS_ADDITION = """
INSTALLED_APPS += ["autoaudit"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "autoaudit.middleware.AuditMiddleware",
)
AUTOAUDIT = {"MODELS": {"auth.User": {"exclude_fields": ["last_login"]}}}
"""
URLS = """from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("activity/", include("autoaudit.urls")),
    path("privacy/", include("autoaudit.privacy_urls")),
]
"""
SMOKE = """
import json
from django.contrib.auth.models import User
from django.test import Client
import autoaudit
from autoaudit.models import ActivityLog

with autoaudit.actor(actor_type="system"):
    user = User.objects.create_superuser("root", "root@example.com", "x")
    user.first_name = "Root"
    user.save()
logs = list(ActivityLog.objects.for_instance(user).values_list("action", flat=True))
assert logs == ["update", "create"], logs
client = Client(HTTP_HOST="localhost")  # startproject allows localhost with DEBUG
response = client.get("/activity/")
assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), response
assert client.get("/activity/api/").status_code == 403
client.force_login(user)
assert client.get("/activity/").status_code == 200
body = json.loads(client.get("/activity/api/").content)
assert len(body["results"]) >= 2, body
print("smoke: logs written, timeline and JSON endpoint answer")
"""

_start = time.monotonic()
timings: list[tuple[str, float]] = []


def step(name: str) -> None:
    timings.append((name, time.monotonic()))
    print(f"\n=== {name} ({time.monotonic() - _start:.1f}s) ===", flush=True)


def run(*cmd: object, cwd: Path | None = None, capture: bool = False) -> str:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, check=False, text=True, capture_output=capture
    )
    if result.returncode != 0:
        if capture:
            print(result.stdout, result.stderr, sep="\n")
        raise SystemExit(f"failed ({result.returncode}): {' '.join(str(c) for c in cmd)}")
    return result.stdout + (result.stderr if capture else "") if capture else ""


def check_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in REQUIRED if name not in names]
    stray = sorted(name for name in names if name.startswith(FORBIDDEN))
    if missing or stray:
        raise SystemExit(f"wheel {wheel.name}: missing {missing}, should not hold {stray[:10]}")
    mo = ROOT / "autoaudit/locale/id/LC_MESSAGES/django.mo"
    if zipfile.ZipFile(wheel).read("autoaudit/locale/id/LC_MESSAGES/django.mo") != mo.read_bytes():
        raise SystemExit("the wheel's django.mo differs from the repository's")
    check_catalogue(zipfile.ZipFile(wheel).read("autoaudit/locale/id/LC_MESSAGES/django.mo"))
    size = wheel.stat().st_size // 1024
    print(f"{wheel.name}: {len(names)} files, {size} KiB; all required present")


def check_catalogue(shipped: bytes) -> None:
    """The shipped ``.mo`` holds exactly what the ``.po`` says (compiled with
    ``msgfmt``, as ``compilemessages`` does): a stale one would leave new
    strings untranslated."""
    po = ROOT / "autoaudit/locale/id/LC_MESSAGES/django.po"
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "django.mo"
        run("msgfmt", "--check-format", "-o", fresh, po)
        expected = gettext.GNUTranslations(io.BytesIO(fresh.read_bytes()))
    actual = gettext.GNUTranslations(io.BytesIO(shipped))
    catalogue = "_catalog"  # GNUTranslations keeps its messages there
    if getattr(actual, catalogue) != getattr(expected, catalogue):
        raise SystemExit(
            "autoaudit/locale/id/LC_MESSAGES/django.mo is stale: "
            "run `cd autoaudit && django-admin compilemessages -l id`"
        )
    print("django.mo matches django.po")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autoaudit-wheel-"))
    try:
        step("build sdist and wheel (python -m build)")
        run(args.python, "-m", "venv", work / "build-venv")
        run(work / "build-venv/bin/pip", "install", "--quiet", "build")
        # From a copy of the tracked files, as a clean clone has them.
        src = work / "src"
        files = run("git", "ls-files", "-z", cwd=ROOT, capture=True).split("\0")
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
        run(work / "build-venv/bin/python", "-m", "build", "--outdir", work / "dist", src)
        (wheel,) = (work / "dist").glob("autoaudit-*.whl")

        step("wheel contents")
        check_wheel(wheel)

        step("install the wheel into a clean venv")
        venv = work / "venv"
        run(args.python, "-m", "venv", venv)
        run(venv / "bin/pip", "install", "--quiet", wheel)

        step("startproject and the README's quickstart")
        site = work / "project"
        site.mkdir()
        run(venv / "bin/django-admin", "startproject", "mysite", site)
        settings = site / "mysite" / "settings.py"
        settings.write_text(settings.read_text() + SETTINGS_ADDITION)
        (site / "mysite" / "urls.py").write_text(URLS)
        manage = [venv / "bin/python", site / "manage.py"]
        out = run(*manage, "check", "--fail-level", "ERROR", capture=True)
        if "autoaudit.W003" not in out:
            raise SystemExit(
                f"manage.py check should warn autoaudit.W003 without LOGIN_URL:\n{out}"
            )
        print("check without LOGIN_URL: autoaudit.W003 as expected")
        settings.write_text(settings.read_text() + 'LOGIN_URL = "admin:login"\n')
        run(*manage, "check", "--fail-level", "WARNING")
        run(*manage, "migrate", "--noinput", "--verbosity", "0")
        run(*manage, "shell", "-c", SMOKE)

        step("done")
        for (name, begin), (_, end) in itertools.pairwise(timings):
            print(f"  {end - begin:6.1f}s  {name}")
        print(f"  {time.monotonic() - _start:6.1f}s  total")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
