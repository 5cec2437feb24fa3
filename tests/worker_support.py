"""Start and stop a real worker process (Celery's, django-tasks-db's) for a test.

The worker runs this checkout's code (``PYTHONPATH``) with the test
settings, pointed at the very database the test uses
(``AUTOAUDIT_TEST_DB_EXACT_NAME``), so it sees the rows a transactional
test commits and the test sees the rows it writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker process: this checkout, the test settings
    and the test database, by its exact name."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        DJANGO_SETTINGS_MODULE="tests.settings",
        AUTOAUDIT_TEST_DB_EXACT_NAME=str(connection.settings_dict["NAME"]),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Worker:
    """A worker process whose output is collected; ready when it printed
    ``ready_text``."""

    def __init__(self, args: list[str], ready_text: str, env: dict[str, str]) -> None:
        self.args = [sys.executable, *args]
        self.ready_text = ready_text
        self.env = env
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if self.ready_text in line:
                self._ready.set()

    def start(self, timeout: float = 60) -> Worker:
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The worker did not start:\n{self.output()}")
        return self

    def stop(self) -> None:
        """Ask the worker to stop (SIGTERM: a warm shutdown), then make sure."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._reader is not None:
            self._reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
        self.process = None

    def output(self) -> str:
        return "".join(self.lines)[-5000:]
