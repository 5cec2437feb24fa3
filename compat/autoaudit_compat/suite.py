"""Hooks that run Django's ``tests/runtests.py`` with autoaudit installed.

How it hooks in (read with the sdist's ``runtests.py`` beside you):

* ``runtests`` is imported as a module (its ``__main__`` block does not run),
  then patched: ``autoaudit`` is appended to ``ALWAYS_INSTALLED_APPS`` and
  ``AuditMiddleware`` to ``ALWAYS_MIDDLEWARE``, and ``setup_run_tests`` is
  wrapped. Finally the body of its ``if __name__ == "__main__":`` block is
  executed in the module's namespace, so every ``runtests.py`` option works
  unchanged.
* The wrapped ``setup_run_tests`` runs Django's (which loads the test apps),
  then selects the :class:`RecordingRunner` and registers every model.
  ``runtests.django_tests`` hands this same function to the parallel suite as
  ``process_setup``, so workers started with *spawn* or *forkserver* (where
  Django calls it in each worker) register the same models; *fork* workers
  inherit the parent's registry.
* Models declared in test modules appear only once those are imported, so
  registration runs again after the suite is built (parent) and before each
  subsuite runs (workers: a subsuite is unpickled, importing its modules,
  just before it runs).
* Results are recorded by test id in the parent process (parallel workers'
  events are replayed there) and written as JSON at the end of the run.

Configured through environment variables set by ``compat/run.py``:
``AUTOAUDIT_COMPAT_MODE`` (``autoaudit`` or ``baseline``),
``AUTOAUDIT_COMPAT_REGISTER`` / ``AUTOAUDIT_COMPAT_MIDDLEWARE`` (``0`` turns
one off), ``AUTOAUDIT_COMPAT_RESULTS`` (JSON path),
``AUTOAUDIT_COMPAT_START_METHOD``, ``AUTOAUDIT_COMPAT_SQL_DIR`` (records the
statements of every ``assertNumQueries`` / ``CaptureQueriesContext``) and
``AUTOAUDIT_COMPAT_LENIENT_COUNTS=1`` (``assertNumQueries`` records instead of
failing, so a test runs on past its query counts: ``run.py --verify``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import multiprocessing
import os
import pickle
import sys
import time
import traceback
import unittest
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import django
import runtests  # type: ignore[import-not-found]  # the sdist's tests/runtests.py
from django.test import runner as django_runner
from django.test.utils import CaptureQueriesContext

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
#: What unittest passes to ``addError`` and friends (typeshed's ``OptExcInfo``).
AnyExcInfo = Any

MODE = os.environ.get("AUTOAUDIT_COMPAT_MODE", "autoaudit")
if MODE not in ("autoaudit", "baseline"):
    raise SystemExit(f"AUTOAUDIT_COMPAT_MODE={MODE!r}: use autoaudit or baseline")
ENABLED = MODE == "autoaudit"
REGISTER = ENABLED and os.environ.get("AUTOAUDIT_COMPAT_REGISTER", "1") != "0"
MIDDLEWARE = ENABLED and os.environ.get("AUTOAUDIT_COMPAT_MIDDLEWARE", "1") != "0"
RESULTS = os.environ.get("AUTOAUDIT_COMPAT_RESULTS")
SQL_DIR = os.environ.get("AUTOAUDIT_COMPAT_SQL_DIR")
LENIENT = os.environ.get("AUTOAUDIT_COMPAT_LENIENT_COUNTS") == "1"
START_METHOD = os.environ.get("AUTOAUDIT_COMPAT_START_METHOD")

_spec = importlib.util.find_spec("autoaudit")
AUTOAUDIT_DIR = (
    str(Path(_spec.origin).resolve().parent) + os.sep if _spec and _spec.origin else "\0"
)

#: Registration failures: ``{"model": label, "error": "Type: message"}``.
registration_errors: list[dict[str, str]] = []


# -- registration ----------------------------------------------------------------
def register_all() -> int:
    """Register every concrete and proxy model not yet registered; return the total."""
    if not REGISTER:
        return 0
    from django.apps import apps

    import autoaudit

    for model in apps.get_models():  # no auto-created through models, no swapped ones
        if model._meta.label == "autoaudit.ActivityLog" or autoaudit.is_registered(model):
            continue
        if any(e["model"] == model._meta.label for e in registration_errors):
            continue
        m2m = [f.name for f in model._meta.local_many_to_many]
        try:
            autoaudit.register(model, m2m_fields=m2m)
        except Exception as exc:
            registration_errors.append(
                {"model": model._meta.label, "error": f"{type(exc).__name__}: {exc}"}
            )
    from autoaudit.tracking.registry import registered_models

    return len(list(registered_models()))


_original_setup_run_tests: Callable[..., Any] = runtests.setup_run_tests


def setup_run_tests(*args: Any, **kwargs: Any) -> Any:
    """Django's ``setup_run_tests``, then our runner and the registrations."""
    result = _original_setup_run_tests(*args, **kwargs)
    from django.conf import settings

    settings.TEST_RUNNER = f"{__name__}.RecordingRunner"
    register_all()
    return result


if ENABLED:
    runtests.ALWAYS_INSTALLED_APPS.append("autoaudit")
    if MIDDLEWARE:
        runtests.ALWAYS_MIDDLEWARE.append("autoaudit.middleware.AuditMiddleware")
runtests.setup_run_tests = setup_run_tests


# -- recording ---------------------------------------------------------------------
class UnpicklableError(Exception):
    """Stands in, across the process boundary, for an exception pickle refused."""

    def __init__(self, type_name: str, message: str, text: str) -> None:
        super().__init__(type_name, message, text)
        self.type_name, self.message, self.text = type_name, message, text

    def __str__(self) -> str:
        return self.message


def _picklable(err: ExcInfo) -> ExcInfo:
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        text = "".join(traceback.format_exception(*err))
        exc = UnpicklableError(_type_name(err[0]), str(err[1]), text)
        return UnpicklableError, exc, None
    return err


class RecordingRemoteTestResult(django_runner.RemoteTestResult):
    """Django's worker result, but an unpicklable exception cannot kill the run."""

    def addError(self, test: Any, err: AnyExcInfo) -> None:
        super().addError(test, _picklable(err))

    def addFailure(self, test: Any, err: AnyExcInfo) -> None:
        super().addFailure(test, _picklable(err))

    def addSubTest(self, test: Any, subtest: Any, err: AnyExcInfo) -> None:
        super().addSubTest(test, subtest, None if err is None else _picklable(err))


class RecordingRemoteTestRunner(django_runner.RemoteTestRunner):
    resultclass = RecordingRemoteTestResult


def run_subsuite(args: Any) -> Any:
    """Register models the just-unpickled subsuite's modules declared, then run it."""
    register_all()
    return django_runner._run_subsuite(args)  # type: ignore[attr-defined]


class CompatParallelTestSuite(django_runner.ParallelTestSuite):
    runner_class = RecordingRemoteTestRunner
    run_subsuite = run_subsuite


def _type_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _frame(entry: traceback.FrameSummary) -> dict[str, Any]:
    filename = entry.filename
    if filename.startswith(AUTOAUDIT_DIR):
        filename = "autoaudit/" + filename[len(AUTOAUDIT_DIR) :]
    return {
        "file": filename,
        "line": entry.lineno,
        "function": entry.name,
        "code": entry.line,
    }


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and all(exc is not e for e in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _frames(err: ExcInfo) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The innermost autoaudit frame (searching chained exceptions too) and the
    innermost frame of the exception itself."""
    innermost = None
    tb_frames = traceback.extract_tb(err[2]) if err[2] is not None else []
    if tb_frames:
        innermost = _frame(tb_frames[-1])
    for exc in [err[1], *_chain(err[1])[1:]]:
        tb = err[2] if exc is err[1] else exc.__traceback__
        frames = traceback.extract_tb(tb) if tb is not None else []
        ours = [f for f in frames if f.filename.startswith(AUTOAUDIT_DIR)]
        if ours:
            return _frame(ours[-1]), innermost
    return None, innermost


class RecordingMixin:
    """Collects every test id run and every failure and error, by test id."""

    compat_ran: list[str]
    compat_problems: list[dict[str, Any]]
    compat_skips: list[dict[str, str]]

    def _compat_init(self) -> None:
        if not hasattr(self, "compat_ran"):
            self.compat_ran = []
            self.compat_problems = []
            self.compat_skips = []

    def startTest(self, test: Any) -> None:
        self._compat_init()
        self.compat_ran.append(test.id())
        super().startTest(test)  # type: ignore[misc]

    def _compat_record(self, kind: str, test: Any, err: ExcInfo | None, subtest: Any) -> None:
        self._compat_init()
        entry: dict[str, Any] = {"id": test.id(), "kind": kind}
        if subtest is not None:
            entry["subtest"] = subtest._subDescription()
        if err is not None:
            exc = err[1]
            if isinstance(exc, UnpicklableError):
                entry.update(exc_type=exc.type_name, message=exc.message, traceback=exc.text)
                entry["unpicklable"] = True
            else:
                entry.update(exc_type=_type_name(err[0]), message=str(exc))
                try:
                    entry["traceback"] = self._exc_info_to_string(err, test)  # type: ignore[attr-defined]
                except Exception:  # pragma: no cover - formatting must not lose the entry
                    entry["traceback"] = "".join(traceback.format_exception(*err))
            entry["autoaudit_frame"], entry["innermost_frame"] = _frames(err)
        self.compat_problems.append(entry)

    def addError(self, test: Any, err: ExcInfo) -> None:
        self._compat_record("error", test, err, None)
        super().addError(test, err)  # type: ignore[misc]

    def addFailure(self, test: Any, err: ExcInfo) -> None:
        self._compat_record("failure", test, err, None)
        super().addFailure(test, err)  # type: ignore[misc]

    def addSubTest(self, test: Any, subtest: Any, err: ExcInfo | None) -> None:
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._compat_record("failure" if failed else "error", test, err, subtest)
        super().addSubTest(test, subtest, err)  # type: ignore[misc]

    def addSkip(self, test: Any, reason: str) -> None:
        self._compat_init()
        self.compat_skips.append({"id": test.id(), "reason": str(reason)})
        super().addSkip(test, reason)  # type: ignore[misc]

    def addUnexpectedSuccess(self, test: Any) -> None:
        self._compat_record("unexpected_success", test, None, None)
        super().addUnexpectedSuccess(test)  # type: ignore[misc]


class RecordingRunner(django_runner.DiscoverRunner):
    """Django's runner, recording results and registering late-declared models."""

    parallel_test_suite = CompatParallelTestSuite

    def get_resultclass(self) -> type[Any]:
        base = super().get_resultclass() or unittest.TextTestResult
        return type(f"Recording{base.__name__}", (RecordingMixin, base), {})

    def build_suite(self, *args: Any, **kwargs: Any) -> Any:
        suite = super().build_suite(*args, **kwargs)
        register_all()
        return suite

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = super().run_suite(suite, **kwargs)
        if RESULTS:
            write_results(result, time.monotonic() - started, self.parallel)
        return result


def write_results(result: Any, seconds: float, parallel: int) -> None:
    from django.db import connection

    registered = 0
    if REGISTER:
        from autoaudit.tracking.registry import registered_models

        registered = len(list(registered_models()))
    data = {
        "django": django.get_version(),
        "python": sys.version.split()[0],
        "vendor": connection.vendor,
        "mode": MODE,
        "registered_models": registered,
        "registration_errors": registration_errors,
        "middleware": MIDDLEWARE,
        "start_method": multiprocessing.get_start_method(),
        "parallel": parallel,
        "suite_seconds": round(seconds, 1),
        "tests_run": result.testsRun,
        "skipped": len(result.skipped),
        "expected_failures": len(result.expectedFailures),
        "ran": getattr(result, "compat_ran", []),
        "problems": getattr(result, "compat_problems", []),
        "skips": getattr(result, "compat_skips", []),
    }
    Path(RESULTS or "").write_text(json.dumps(data, indent=1))


# -- optional: the statements of every query-capturing assertion ------------------
_current_test: list[str] = []


def _install_sql_capture(directory: str, lenient: bool) -> None:
    from django.test.testcases import _AssertNumQueriesContext

    original_run = unittest.TestCase.run
    original_exit = CaptureQueriesContext.__exit__

    def run(self: unittest.TestCase, result: Any = None) -> Any:
        _current_test[:] = [self.id()]
        try:
            return original_run(self, result)
        finally:
            _current_test[:] = []

    def exit_(self: CaptureQueriesContext, *exc: Any) -> None:
        original_exit(self, *exc)
        record = {
            "test": _current_test[0] if _current_test else None,
            "context": type(self).__name__,
            "alias": self.connection.alias,
            "expected": getattr(self, "num", None),
            "raised": exc[0] is not None,
            "sql": [q["sql"] for q in self.captured_queries],
        }
        path = Path(directory) / f"sql-{os.getpid()}.jsonl"
        with path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")

    def lenient_exit(self: Any, *exc: Any) -> None:
        CaptureQueriesContext.__exit__(self, *exc)  # records; the count is not asserted

    unittest.TestCase.run = run  # type: ignore[method-assign]
    CaptureQueriesContext.__exit__ = exit_  # type: ignore[method-assign]
    if lenient:
        _AssertNumQueriesContext.__exit__ = lenient_exit  # type: ignore[method-assign]


if SQL_DIR:
    _install_sql_capture(SQL_DIR, LENIENT)


# -- entry point -----------------------------------------------------------------
def _main_block(tree: ast.Module) -> list[ast.stmt]:
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            return node.body
    raise SystemExit(f"{runtests.__file__} has no `if __name__ == '__main__':` block")


def main() -> None:
    if START_METHOD:
        multiprocessing.set_start_method(START_METHOD, force=True)
    path = runtests.__file__
    block = _main_block(ast.parse(Path(path).read_text(), path))
    code = compile(ast.Module(body=block, type_ignores=[]), path, "exec")
    sys.argv = [path, *sys.argv[1:]]
    exec(code, vars(runtests))
