"""A bounded, exhaustive explorer of interleavings.

A few concurrent *actors* are each a list of :class:`Step` s against one shared state (a dict).
:func:`explore` enumerates every schedule (every order in which the actors' steps can interleave),
checks an ``invariant`` after each step and a ``final`` check when all actors are done, and returns
the *simplest* violating schedule: the fewest steps, then the fewest context switches, then the
first in actor order. That schedule is replayed into a :class:`~gotchalab.trace.Trace`, so it can
be told in plain words and drawn as a timeline.

Why hand-written: the course needs exhaustive, deterministic enumeration of small interleavings
with state deduplication and a "fewest context switches" witness; model checkers (TLA+, SPIN) do
not run inside a Python kernel against Python functions, and hypothesis samples rather than
enumerates.

How it stays fast
-----------------
Schedules that reach the same (program counters, state, last actor) are merged, so the work grows
with the number of distinct states rather than the number of schedules. The number of schedules is
still counted exactly (paths through the merged graph), which is what ``schedules`` reports.

Invariants
----------
* Deterministic: no randomness; the same actors and checks give the same result.
* ``state`` passed to a step is that schedule's own copy; steps may mutate it freely.
* State values must be plain data (numbers, strings, None, tuples, lists, dicts, sets), so states
  can be copied and compared without calling learner code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .trace import Trace

__all__ = ["Step", "step", "explore", "Exploration", "Violation", "replay", "freeze"]

State = dict[str, Any]
Check = Callable[[State], "str | None"]


@dataclass(frozen=True)
class Step:
    """One atomic step of an actor: ``run(state)`` mutates the shared state.

    ``label`` is what the step does in a few words ("read cache", "UPDATE db"). ``enabled``, if
    given, says whether the step can run now (a lock that is free, a message that has arrived);
    a schedule in which no unfinished actor is enabled is a deadlock.
    """

    label: str
    run: Callable[[State], Any]
    enabled: Callable[[State], bool] | None = None


def step(label: str, enabled: Callable[[State], bool] | None = None):
    """Decorator form: ``@step("read db")`` turns a function of the state into a :class:`Step`."""

    def wrap(fn: Callable[[State], Any]) -> Step:
        return Step(label, fn, enabled)

    return wrap


@dataclass
class Violation:
    """The simplest schedule that breaks the check, and what broke."""

    message: str
    schedule: list[tuple[str, str]]  # (actor, step label) in order
    states: list[State]  # the state after each step
    initial: State
    context_switches: int
    trace: Trace = field(repr=False)

    def describe(self) -> str:
        """The schedule in numbered plain-English lines, ending with what went wrong."""
        lines = [f"{i:>3}. {actor}: {label}" for i, (actor, label) in enumerate(self.schedule, 1)]
        lines.append(f"  => {self.message}")
        return "\n".join(lines)


@dataclass
class Exploration:
    """What :func:`explore` found."""

    schedules: int  # complete schedules covered (exact count, merged states included)
    states: int  # distinct states visited
    violation: Violation | None

    @property
    def ok(self) -> bool:
        return self.violation is None


def freeze(value: Any) -> Any:
    """A hashable, canonical image of plain data (dicts and sets in sorted order)."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(freeze(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("s", tuple(sorted(freeze(v) for v in value)))
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    raise TypeError(
        f"explorer state must be plain data (dict/list/set/str/number/None); got {type(value).__name__} "
        f"{value!r}. Keep learner objects out of the shared state."
    )


_IMMUTABLE = frozenset({str, int, float, bool, type(None), tuple, frozenset})


def _state_key(state: State) -> Any:
    """A hashable key for deduplicating states: equal states give equal keys.

    Fast path for the common flat dict of hashable values (one sort, no recursion); anything else
    (nested dicts, lists, sets) goes through :func:`freeze`. The two kinds of key never collide,
    because a state takes the same path every time it occurs.
    """
    try:
        key = ("flat", tuple(sorted(state.items())))
        hash(key)
    except TypeError:
        return freeze(state)
    return key


def _copy_state(state: State) -> State:
    # Fast path for the common flat dict of immutables; deepcopy otherwise. Exact types: a set
    # lookup is cheaper than isinstance, and subclasses just take the slow (still correct) path.
    if all(type(v) in _IMMUTABLE for v in state.values()):
        return dict(state)
    return copy.deepcopy(state)


@dataclass
class _Node:
    state: State
    pcs: tuple[int, ...]
    last: int  # index of the actor that ran last (-1 at the start)
    # best (simplest) path that reaches this node: (steps, switches, actor order key)
    path: tuple[int, ...]
    switches: int
    count: int  # number of distinct schedules reaching this node


def explore(
    actors: Mapping[str, Sequence[Step]],
    init: State | Callable[[], State],
    *,
    invariant: Check | None = None,
    final: Check | None = None,
    max_states: int = 200_000,
) -> Exploration:
    """Enumerate every interleaving of ``actors`` from ``init``; return the simplest violation.

    ``invariant(state)`` runs after every step and ``final(state)`` when every actor is done;
    each returns ``None`` when all is well or a sentence saying what is wrong. Raises
    ``RuntimeError`` if more than ``max_states`` distinct states would be visited.
    """
    names = list(actors)
    if not names:
        raise ValueError("explore needs at least one actor")
    programs = [list(actors[n]) for n in names]
    for n, prog in zip(names, programs, strict=True):
        for s in prog:
            if not isinstance(s, Step):
                raise TypeError(f"actor {n!r} has a step that is not a Step: {s!r}")
    start_state = init() if callable(init) else copy.deepcopy(dict(init))
    lengths = tuple(len(p) for p in programs)
    total = sum(lengths)

    def better(a: _Node, path: tuple[int, ...], switches: int) -> bool:
        return (switches, path) < (a.switches, a.path)

    start = _Node(_copy_state(start_state), (0,) * len(names), -1, (), 0, 1)
    layer: dict[Any, _Node] = {("start",): start}
    visited = 1
    schedules = 0
    best: tuple[int, int, tuple[int, ...], str] | None = None  # (steps, switches, path, message)

    if invariant is not None and (msg := invariant(start.state)):
        best = (0, 0, (), msg)

    for depth in range(total):
        if best is not None and best[0] <= depth:
            break
        nxt: dict[Any, _Node] = {}
        for node in layer.values():
            runnable = [
                i
                for i, prog in enumerate(programs)
                if node.pcs[i] < lengths[i]
                and (prog[node.pcs[i]].enabled is None or prog[node.pcs[i]].enabled(node.state))
            ]
            if not runnable:
                if sum(node.pcs) < total:  # unfinished actors, none can move
                    waiting = [names[i] for i in range(len(names)) if node.pcs[i] < lengths[i]]
                    msg = f"deadlock: {', '.join(waiting)} can never take their next step"
                    cand = (depth, node.switches, node.path, msg)
                    if best is None or cand < best:
                        best = cand
                continue
            for i in runnable:
                st = _copy_state(node.state)
                programs[i][node.pcs[i]].run(st)
                pcs = node.pcs[:i] + (node.pcs[i] + 1,) + node.pcs[i + 1 :]
                switches = node.switches + (1 if node.last not in (-1, i) else 0)
                path = node.path + (i,)
                if invariant is not None and (msg := invariant(st)):
                    cand = (depth + 1, switches, path, msg)
                    if best is None or cand < best:
                        best = cand
                    schedules += node.count
                    continue
                key = (pcs, i, _state_key(st))
                old = nxt.get(key)
                if old is None:
                    nxt[key] = _Node(st, pcs, i, path, switches, node.count)
                    visited += 1
                    if visited > max_states:
                        raise RuntimeError(
                            f"exploration passed max_states={max_states}; make the scenario smaller "
                            "(fewer actors or steps) or raise max_states"
                        )
                else:
                    old.count += node.count
                    if better(old, path, switches):
                        old.path, old.switches = path, switches
        layer = nxt

    if best is None or best[0] == total:
        # Terminal states: all actors done.
        for node in layer.values():
            if sum(node.pcs) != total:
                continue
            schedules += node.count
            if final is not None and (msg := final(node.state)):
                cand = (total, node.switches, node.path, msg)
                if best is None or cand < best:
                    best = cand

    violation = None
    if best is not None:
        violation = _witness(names, programs, start_state, list(best[2]), best[3])
    return Exploration(schedules=schedules, states=visited, violation=violation)


def replay(
    actors: Mapping[str, Sequence[Step]],
    init: State | Callable[[], State],
    schedule: Sequence[str],
) -> tuple[list[State], Trace]:
    """Run one schedule (a sequence of actor names) and record it as a trace.

    Each step becomes an event at time ``1, 2, ...`` on its actor's lane with the step label as
    the event name and the state after the step in ``detail["state"]``.
    """
    names = list(actors)
    programs = [list(actors[n]) for n in names]
    start = init() if callable(init) else copy.deepcopy(dict(init))
    idx = []
    for a in schedule:
        if a not in actors:
            raise ValueError(f"schedule names unknown actor {a!r}; actors are {names}")
        idx.append(names.index(a))
    v = _witness(names, programs, start, idx, "")
    return v.states, v.trace


def _witness(
    names: list[str],
    programs: list[list[Step]],
    start: State,
    path: list[int],
    message: str,
) -> Violation:
    st = _copy_state(start)
    pcs = [0] * len(names)
    trace = Trace(nodes=names, meta={"kind": "interleaving"})
    schedule: list[tuple[str, str]] = []
    states: list[State] = []
    switches = 0
    last = -1
    for t, i in enumerate(path, 1):
        if pcs[i] >= len(programs[i]):
            raise ValueError(f"actor {names[i]!r} has no step {pcs[i] + 1} to run")
        s = programs[i][pcs[i]]
        s.run(st)
        pcs[i] += 1
        switches += 1 if last not in (-1, i) else 0
        last = i
        snapshot = copy.deepcopy(st)
        states.append(snapshot)
        schedule.append((names[i], s.label))
        trace.record(float(t), names[i], s.label, state=snapshot, text=s.label)
    return Violation(message, schedule, states, copy.deepcopy(start), switches, trace)
