"""The ``tests/`` folder of the installed Django version's sdist."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def django_version() -> str:
    try:
        return importlib.metadata.version("django")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit("Django is not installed in this interpreter.") from None


def _find_sdist(directory: Path, version: str) -> Path | None:
    for name in (f"django-{version}.tar.gz", f"Django-{version}.tar.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def ensure_suite(version: str, cache: Path) -> Path:
    """The ``tests/`` folder of Django ``version``'s sdist, downloaded and extracted once."""
    target = cache / f"django-{version}"
    tests = target / "tests"
    if (tests / "runtests.py").is_file() and (target / ".complete").is_file():
        return tests
    downloads = cache / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = _find_sdist(downloads, version)
    if sdist is None:
        print(f"Downloading the sdist of Django {version} into {downloads} ...", flush=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", f"django=={version}", "--dest", str(downloads)),
            ],
            check=True,
        )
        sdist = _find_sdist(downloads, version)
        if sdist is None:
            raise SystemExit(f"pip download left no Django {version} sdist in {downloads}.")
    print(f"Extracting tests/ from {sdist.name} ...", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="extract-", dir=cache))
    try:
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"]]
            if not members:
                raise SystemExit(f"{sdist} has no tests/ folder.")
            top = members[0].name.split("/")[0]
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, members, filter="data")
            else:  # pragma: no cover - Python 3.11 before 3.11.4
                archive.extractall(scratch, members)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (scratch / top / "tests").rename(tests)
        (target / ".complete").write_text(sdist.name + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tests
