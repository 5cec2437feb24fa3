"""The parts of ``compat/run.py``: the suite's sources, the allow-list, running
``runtests.py``, the report, and ``--verify``."""
