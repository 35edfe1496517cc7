"""One trace type for every simulation: ``(time, node, event, detail)``.

Every simulator in the course (the network in :mod:`gotchalab.sim`, the interleaving explorer in
:mod:`gotchalab.explore`, the chapter models) records :class:`Event` rows into a :class:`Trace`.
The same trace draws the picture (:mod:`gotchalab.timeline`), is told in plain words
(:meth:`Trace.describe`) and feeds the graders (:mod:`gotchalab.check`).

Invariants
----------
* Events are kept in recording order, which is non-decreasing in ``time``; events at the same time
  keep the order in which they were recorded (the simulators record them in a seeded, deterministic
  order), so two runs with the same seed give equal traces.
* ``detail`` holds only plain values (str, int, float, bool, None, tuples/lists/dicts of those), so a
  trace can be compared, hashed into JSON and shown to a learner without calling learner code.
* The happens-before relation is derived from the trace itself (program order on each node plus
  send -> receive edges), as graph reachability, so checkers never need a reference clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

__all__ = ["Event", "Trace", "SEND", "RECV", "DROP", "DUP", "CRASH", "RECOVER", "PARTITION", "HEAL"]

# The network's own event names; models may record any other name for local steps.
SEND = "send"
RECV = "recv"
DROP = "drop"
DUP = "duplicate"
CRASH = "crash"
RECOVER = "recover"
PARTITION = "partition"
HEAL = "heal"


class Event(NamedTuple):
    """One row of a trace: at ``time`` on ``node`` something called ``event`` happened."""

    time: float
    node: str
    event: str
    detail: Mapping[str, Any]

    def describe(self) -> str:
        """This event as one plain-English sentence (used in failure reports)."""
        return _describe(self)


def _fmt_time(t: float) -> str:
    return f"{t:g}"


def _payload(d: Mapping[str, Any]) -> str:
    p = d.get("payload")
    return "" if p is None else f" {json.dumps(p, default=str)}"


def _describe(e: Event) -> str:
    d = e.detail
    t = f"t={_fmt_time(e.time)}"
    if e.event == SEND:
        return f"{t}: {e.node} sends {d.get('msg')}{_payload(d)} to {d.get('dst')}"
    if e.event == RECV:
        return f"{t}: {e.node} receives {d.get('msg')}{_payload(d)} from {d.get('src')}"
    if e.event == DROP:
        why = d.get("reason", "lost")
        return (
            f"{t}: the network drops {d.get('msg')} from {d.get('src')} to {d.get('dst')} ({why})"
        )
    if e.event == DUP:
        return f"{t}: the network duplicates {d.get('msg')} (copy {d.get('copy')})"
    if e.event == CRASH:
        return f"{t}: {e.node} crashes and loses its memory"
    if e.event == RECOVER:
        return f"{t}: {e.node} restarts"
    if e.event == PARTITION:
        return f"{t}: the network partitions {d.get('groups')}"
    if e.event == HEAL:
        return f"{t}: the partition heals"
    text = d.get("text")
    if text:
        return f"{t}: {e.node}: {text}"
    extras = ", ".join(f"{k}={v!r}" for k, v in d.items())
    return f"{t}: {e.node} {e.event}" + (f" ({extras})" if extras else "")


class Trace:
    """An ordered list of :class:`Event` rows plus the seed and node order that produced it."""

    __slots__ = ("_events", "seed", "nodes", "meta")

    def __init__(
        self,
        events: Iterable[Event] = (),
        *,
        seed: int | None = None,
        nodes: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self._events: list[Event] = list(events)
        self.seed = seed
        self.nodes: list[str] = list(nodes)
        self.meta: dict[str, Any] = dict(meta or {})
        for e in self._events:
            self._note_node(e.node)

    # -- recording -------------------------------------------------------------------------
    def _note_node(self, node: str) -> None:
        if node not in self.nodes:
            self.nodes.append(node)

    def record(self, time: float, node: str, event: str, **detail: Any) -> Event:
        """Append an event; ``time`` must not go backwards (a simulator bug otherwise)."""
        if self._events and time < self._events[-1].time:
            raise ValueError(
                f"trace time went backwards: {time!r} after {self._events[-1].time!r}; "
                "simulators must record events in time order"
            )
        ev = Event(time, node, event, detail)
        self._events.append(ev)
        self._note_node(node)
        return ev

    # -- reading ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, i: int) -> Event:
        return self._events[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self.rows() == other.rows()

    def __repr__(self) -> str:
        return f"Trace(seed={self.seed!r}, nodes={self.nodes!r}, events={len(self)})"

    @property
    def events(self) -> list[Event]:
        """A copy of the rows, in order."""
        return list(self._events)

    def rows(self) -> list[tuple[float, str, str, str]]:
        """Canonical, comparable rows: ``detail`` as sorted JSON."""
        return [
            (e.time, e.node, e.event, json.dumps(e.detail, sort_keys=True, default=str))
            for e in self._events
        ]

    def filter(self, pred: Callable[[Event], bool]) -> Trace:
        """A trace with only the events for which ``pred`` is true (same seed and nodes)."""
        return Trace(
            (e for e in self._events if pred(e)), seed=self.seed, nodes=self.nodes, meta=self.meta
        )

    def to_frame(self):
        """The trace as a pandas DataFrame with columns time, node, event, detail."""
        import pandas as pd

        return pd.DataFrame(
            [(e.time, e.node, e.event, dict(e.detail)) for e in self._events],
            columns=["time", "node", "event", "detail"],
        )

    def describe(self, limit: int | None = None) -> str:
        """The run told in numbered plain-English lines (at most ``limit`` lines)."""
        evs = self._events if limit is None else self._events[:limit]
        lines = [f"{i:>3}. {e.describe()}" for i, e in enumerate(evs, 1)]
        if limit is not None and len(self._events) > limit:
            lines.append(f"     ... {len(self._events) - limit} more events")
        return "\n".join(lines)

    # -- causality -------------------------------------------------------------------------
    def messages(self) -> dict[str, tuple[int, list[int]]]:
        """For each message id: the index of its send and the indexes of its receives."""
        out: dict[str, tuple[int, list[int]]] = {}
        for i, e in enumerate(self._events):
            if e.event == SEND:
                out[e.detail["msg"]] = (i, [])
        for i, e in enumerate(self._events):
            if e.event == RECV:
                mid = e.detail["msg"]
                if mid not in out:
                    raise ValueError(f"receive of {mid!r} at index {i} has no matching send")
                out[mid][1].append(i)
        return out

    def happens_before(self) -> list[int]:
        """Ground-truth causality as bitsets: bit ``j`` of ``hb[i]`` is set iff event j -> event i.

        Computed as reachability over program order (earlier events on the same node) and
        message edges (a send before each of its receives), not with any logical clock: this is
        the definition the learner's clocks are graded against. Only events on nodes take part;
        crashes reset nothing here, since causality survives a crash through what was sent.
        """
        hb = [0] * len(self._events)
        last_on_node: dict[str, int] = {}
        send_of: dict[str, int] = {}
        for i, e in enumerate(self._events):
            preds = 0
            j = last_on_node.get(e.node)
            if j is not None:
                preds |= hb[j] | (1 << j)
            if e.event == RECV:
                s = send_of.get(e.detail["msg"])
                if s is None:
                    raise ValueError(f"receive of {e.detail['msg']!r} has no earlier send")
                preds |= hb[s] | (1 << s)
            elif e.event == SEND:
                send_of[e.detail["msg"]] = i
            hb[i] = preds
            last_on_node[e.node] = i
        return hb

    def relation(self, i: int, j: int, hb: list[int] | None = None) -> str:
        """``"before"`` if event i -> j, ``"after"`` if j -> i, ``"same"`` or ``"concurrent"``."""
        hb = self.happens_before() if hb is None else hb
        if i == j:
            return "same"
        if hb[j] >> i & 1:
            return "before"
        if hb[i] >> j & 1:
            return "after"
        return "concurrent"
