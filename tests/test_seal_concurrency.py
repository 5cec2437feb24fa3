"""Two ``autoaudit_seal`` processes at once against one database: one chain, no fork."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from autoaudit.lifecycle.sealing import verify
from autoaudit.models import ActivityLog, Seal
from tests.seal_support import make_rows

ROWS = 3000
BATCH = 25

#: Runs the command in a child process, starting at a given wall-clock time
#: so that both children seal at the same moment.
_CHILD = """
import sys, time
import django
django.setup()
from django.core.management import call_command
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
call_command("autoaudit_seal", "--batch-size", sys.argv[2])
"""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    if connection.vendor != "sqlite":
        # The test database, on the same server (SQLite's test file is the same name).
        env["AUTOAUDIT_TEST_DB_NAME"] = str(connection.settings_dict["NAME"])
    return env


@pytest.mark.django_db(transaction=True)
def test_two_sealers_at_once_make_one_chain() -> None:
    make_rows(ROWS)
    start = time.time() + 4  # both children are set up by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(start), str(BATCH)],
            env=_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    if connection.vendor != "sqlite":
        # Both took part: each made some of the seals (the lock queues them).
        # SQLite's busy handler is not fair: the process that holds the
        # write lock may take it again for every seal while the other waits.
        assert all("Sealed" in out for out, _err in outputs), outputs
    seals = list(Seal.objects.order_by("first_id"))
    assert sum(s.row_count for s in seals) == ROWS == ActivityLog.objects.count()
    assert len(seals) == ROWS // BATCH
    for before, after in itertools.pairwise(seals):
        assert after.first_id == before.last_id + 1
        assert after.previous_digest == before.digest
    report = verify()
    assert not report.tampered and report.rows == ROWS and report.unsealed == 0
