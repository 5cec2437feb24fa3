"""``dev.py``: the README's two commands (what they install, what they print)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autoaudit_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def commands(dev: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands ``dev.py`` runs, recorded instead of run; a fake venv's
    python appears when the venv is "created"."""
    ran: list[list[str]] = []

    def run(*cmd: object, **kwargs: object) -> None:
        ran.append([str(c) for c in cmd])
        if cmd[1:3] == ("-m", "venv"):
            python = dev._bin(Path(str(cmd[3])), "python")
            python.parent.mkdir(parents=True)
            python.write_text("")

    monkeypatch.setattr(dev, "run", run)
    return ran


def _installs(ran: list[list[str]]) -> list[list[str]]:
    return [cmd[4:] for cmd in ran if cmd[1:4] == ["-m", "pip", "install"]]


def test_the_example_installs_no_dev_tools(
    dev: ModuleType, commands: list[list[str]], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    dev.ensure_venv(sys.executable, venv, dev.EXAMPLE_EXTRAS, None)
    assert _installs(commands) == [["--upgrade", "pip"], [f"-e{dev.ROOT}"]]
    # pip's progress is shown: nothing is installed quietly.
    assert not any("--quiet" in cmd or "-q" in cmd for cmd in commands)
    assert json.loads((venv / ".autoaudit-stamp").read_text())["extras"] == []


def test_test_after_example_adds_the_dev_extra_and_example_reuses_it(
    dev: ModuleType, commands: list[list[str]], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    dev.ensure_venv(sys.executable, venv, dev.EXAMPLE_EXTRAS, None)
    commands.clear()
    dev.ensure_venv(sys.executable, venv, dev.EXTRAS["sqlite"], None)
    assert _installs(commands) == [[f"-e{dev.ROOT}[dev]"]]
    commands.clear()
    dev.ensure_venv(sys.executable, venv, dev.EXAMPLE_EXTRAS, None)  # has all it needs
    dev.ensure_venv(sys.executable, venv, dev.EXTRAS["sqlite"], None)
    assert commands == []
    dev.ensure_venv(sys.executable, venv, dev.EXTRAS["postgres"], None)
    assert _installs(commands) == [[f"-e{dev.ROOT}[dev,postgres]"]]


def test_another_django_or_an_old_stamp_reinstalls(
    dev: ModuleType, commands: list[list[str]], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    dev.ensure_venv(sys.executable, venv, "dev", None)
    commands.clear()
    dev.ensure_venv(sys.executable, venv, "dev", "Django>=5.2,<5.3")
    assert _installs(commands) == [[f"-e{dev.ROOT}[dev]", "Django>=5.2,<5.3"]]
    commands.clear()
    (venv / ".autoaudit-stamp").write_text("0123abcd" * 8)  # the stamp of older versions
    dev.ensure_venv(sys.executable, venv, "dev", None)
    assert _installs(commands) == [[f"-e{dev.ROOT}[dev]"]]


def test_the_example_prints_where_to_look(dev: ModuleType) -> None:
    text = dev.example_urls("8123")
    for path in ("/", "/activity/", "/privacy/", "/admin/"):
        assert f"http://127.0.0.1:8123{path}" in text
    assert "admin/admin" in text
