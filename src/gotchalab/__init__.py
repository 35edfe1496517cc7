"""gotchalab: the support library of the Senior Gotchas course.

Modules, one concept each:

* :mod:`gotchalab.trace`    the one trace type ``(time, node, event, detail)`` and happens-before;
* :mod:`gotchalab.sim`      a seeded network with delay, reordering, duplication, loss, partitions, crashes;
* :mod:`gotchalab.timeline` sequence diagrams of a trace (matplotlib);
* :mod:`gotchalab.explore`  exhaustive interleaving exploration with the simplest violating schedule;
* :mod:`gotchalab.check`    how graders search, shrink and report failures.

Chapter modules (graders and demo models) build on these.
"""

from .check import CheckFailure
from .explore import Step, explore, replay, step
from .sim import Context, Crash, Faults, Message, Network, Partition, Process
from .timeline import draw_timeline
from .trace import Event, Trace

__version__ = "0.1.0"

__all__ = [
    "CheckFailure",
    "Context",
    "Crash",
    "Event",
    "Faults",
    "Message",
    "Network",
    "Partition",
    "Process",
    "Step",
    "Trace",
    "draw_timeline",
    "explore",
    "replay",
    "step",
]
