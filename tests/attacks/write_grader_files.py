"""Overwrite the graders on disk (gotchalab/check.py and every chapter module) so that every
check passes for whoever imports them next, and the judge's result files."""
# needs-isolation
import glob as _glob
import os as _os

import gotchalab as _gl

_pkg = _os.path.dirname(_gl.__file__)
for _path in _glob.glob(_os.path.join(_pkg, "*.py")):
    try:
        with open(_path, "a") as _fh:
            _fh.write("\n\ndef fail(*a, **k):\n    return None\n")
    except OSError:
        pass
for _path in _glob.glob("/tmp/gotchalab-grading-jobs/*.json"):
    try:
        with open(_path, "w") as _fh:
            _fh.write('{"cells": [], "notes": []}')
    except OSError:
        pass
