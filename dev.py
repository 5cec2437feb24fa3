#!/usr/bin/env python3
"""Set up and run autoaudit's example project or test suite (stdlib only).

    python3 dev.py example          # venv, install, migrate, demo data, serve :8000
    python3 dev.py test             # venv, install, run the test suite (SQLite)

``example`` installs only what the shop needs (autoaudit and its
dependencies); ``test`` adds the dev tools (pytest, ruff, mypy, mkdocs,
Playwright...). Both use ``.venv`` and show pip's progress.

Options for ``test`` (CI uses them for its matrix):
    --db sqlite|postgres|mysql      database (default: $AUTOAUDIT_TEST_DB or sqlite)
    --python PATH                   interpreter for the virtualenv (default: this one)
    --venv DIR                      virtualenv folder (default: .venv)
    --django SPEC                   e.g. "Django>=5.2,<5.3" (default: newest supported)
Anything after ``--`` goes to pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXTRAS = {"sqlite": "dev", "postgres": "dev,postgres", "mysql": "dev,mysql"}
#: The example shop needs autoaudit's own dependencies only.
EXAMPLE_EXTRAS = ""


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def run(*cmd: object, **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(python: str, venv: Path, extras: str, django: str | None) -> Path:
    """Create ``venv`` and install the project with ``extras`` (cached by a stamp).

    The stamp records the extras installed; a venv that already has them
    (``test`` ran before ``example``) is reused as it is, and one that lacks
    some gets the union, so the two commands can share ``.venv``.
    """
    base = hashlib.sha256(
        "\n".join([python, django or "", (ROOT / "pyproject.toml").read_text()]).encode()
    ).hexdigest()
    wanted = {extra for extra in extras.split(",") if extra}
    stamp_file = venv / ".autoaudit-stamp"
    py = _bin(venv, "python")
    installed: set[str] = set()
    if py.exists() and stamp_file.exists():
        try:
            stamp = json.loads(stamp_file.read_text())
        except ValueError:  # an older stamp (a bare hash): reinstall
            stamp = {}
        if isinstance(stamp, dict) and stamp.get("base") == base:
            installed = set(stamp.get("extras", []))
            if wanted <= installed:
                return py
    if not py.exists():
        run(python, "-m", "venv", venv)
        run(py, "-m", "pip", "install", "--upgrade", "pip")
    extras = ",".join(sorted(wanted | installed))
    requirements = [f"-e{ROOT}[{extras}]" if extras else f"-e{ROOT}"]
    if django:
        requirements.append(django)
    run(py, "-m", "pip", "install", *requirements)
    stamp_file.write_text(json.dumps({"base": base, "extras": sorted(wanted | installed)}))
    return py


def cmd_test(args: argparse.Namespace, pytest_args: list[str]) -> int:
    db = args.db or os.environ.get("AUTOAUDIT_TEST_DB", "sqlite")
    if db not in EXTRAS:
        print(f"--db must be one of {', '.join(EXTRAS)}, not {db!r}", file=sys.stderr)
        return 2
    py = ensure_venv(args.python, Path(args.venv), EXTRAS[db], args.django)
    env = {**os.environ, "AUTOAUDIT_TEST_DB": db}
    print(f"+ AUTOAUDIT_TEST_DB={db} pytest {' '.join(pytest_args)}", flush=True)
    code = subprocess.run([str(py), "-m", "pytest", *pytest_args], cwd=ROOT, env=env).returncode
    if code == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
        return 1
    return code


def example_urls(port: str) -> str:
    """Where to look once the shop is served (printed when it is up)."""
    site = f"http://127.0.0.1:{port}"
    return "\n".join(
        [
            "",
            "The example shop is up:",
            f"  shop      {site}/",
            f"  timeline  {site}/activity/    (log in: admin/admin sees everyone's)",
            f"  privacy   {site}/privacy/     (a guest's opt-out)",
            f"  admin     {site}/admin/       (admin/admin)",
            "Users: admin/admin (superuser), staff/staff, john/john (a customer).",
            "Ctrl+C stops the server.",
            "",
        ]
    )


def _wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def cmd_example(args: argparse.Namespace) -> int:
    py = ensure_venv(args.python, Path(args.venv), EXAMPLE_EXTRAS, args.django)
    manage = ROOT / "example_project" / "manage.py"
    run(py, manage, "migrate", "--noinput")
    run(py, manage, "demo")
    if args.no_serve:
        print(example_urls(args.port).replace("is up", "is ready (serve it without --no-serve)"))
        return 0
    server = subprocess.Popen([str(py), str(manage), "runserver", f"127.0.0.1:{args.port}"])
    try:
        if _wait_for_port(int(args.port), server):
            print(example_urls(args.port), flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait()
        return 0


def main(argv: list[str]) -> int:
    pytest_args: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, pytest_args = argv[:index], argv[index + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["test", "example"])
    parser.add_argument("--db", default=None)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--django", default=None)
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-serve", action="store_true", help="example: stop after the demo data")
    args = parser.parse_args(argv)
    if args.command == "test":
        return cmd_test(args, pytest_args)
    return cmd_example(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
