"""Run Django's own test suite with autoaudit installed (see ``compat/README.md``).

``python -m autoaudit_compat <runtests.py arguments>`` is started by
``compat/run.py`` with the suite's ``tests/`` folder as the working directory
and ``compat/`` on ``PYTHONPATH``; ``suite`` holds the hooks.
"""
