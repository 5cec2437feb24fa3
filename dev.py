#!/usr/bin/env python3
"""Set up and run autoaudit's example project or test suite (stdlib only).

    python3 dev.py example          # venv, install, migrate, demo data, serve :8000
    python3 dev.py test             # venv, install, run the test suite (SQLite)

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
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXTRAS = {"sqlite": "dev", "postgres": "dev,postgres", "mysql": "dev,mysql"}


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def run(*cmd: object, **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(python: str, venv: Path, extras: str, django: str | None) -> Path:
    """Create ``venv`` and install the project with ``extras`` (cached by a stamp)."""
    stamp_text = "\n".join([python, extras, django or "", (ROOT / "pyproject.toml").read_text()])
    stamp = hashlib.sha256(stamp_text.encode()).hexdigest()
    stamp_file = venv / ".autoaudit-stamp"
    py = _bin(venv, "python")
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py
    if not py.exists():
        run(python, "-m", "venv", venv)
    run(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    requirements = [f"-e{ROOT}[{extras}]"]
    if django:
        requirements.append(django)
    run(py, "-m", "pip", "install", "--quiet", *requirements)
    stamp_file.write_text(stamp)
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


def cmd_example(args: argparse.Namespace) -> int:
    py = ensure_venv(args.python, Path(args.venv), "dev", args.django)
    manage = ROOT / "example_project" / "manage.py"
    run(py, manage, "migrate", "--noinput")
    run(py, manage, "demo")
    if args.no_serve:
        return 0
    print(f"Serving the example shop on http://127.0.0.1:{args.port}/ (Ctrl+C stops)")
    try:
        return subprocess.run(
            [str(py), str(manage), "runserver", f"127.0.0.1:{args.port}"]
        ).returncode
    except KeyboardInterrupt:
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
