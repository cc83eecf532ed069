"""The hostile-input corpus: files and arguments someone else may hand a commune, each refused.

Every case builds its inputs in a fresh temporary folder laid out as::

    <tmp>/case/      the working folder: inventories, plugins, bundles (the current folder)
    <tmp>/home/      HOME, the XDG folders, TMPDIR and anl-stack's state, cache and config folders
    <tmp>/outside/   what a hostile input tries to reach: a "shadow" file, a password folder...

and names the command to run, the file and key the error must name, and
what must not exist afterwards. ``tests/unit/test_hostile_corpus.py`` runs
each one as a real ``anl-stack`` process (``tests/hostile/driver.py``) under
resource limits and checks: exit code 2, no traceback, the error naming that
file and key, ``outside/`` unchanged and nothing written beside the three
folders. The cases are tables in ``cases_*.py``; ``corpus.CASES`` gathers them
with the inventories of ``tests/data/bad_inventories/``.
"""
