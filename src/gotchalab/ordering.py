"""Chapter 02, out-of-order messages: demo models and the exercise's graders.

Demo models (used by ``book/02-out-of-order-messages.md``)
---------------------------------------------------------
* :class:`Producer` sends a scripted list of updates, optionally numbered with a sequence number;
  :class:`ApplyInArrivalOrder` applies them as they arrive (the naive consumer). :func:`run_stream`
  wires both onto a faulty :class:`~gotchalab.sim.Network`.
* :func:`keyed_workload` and :func:`simulate_partitions`: a queueing model of a partitioned log
  (one sequential consumer per partition) to measure lag and per-key order against the number of
  partitions and hot keys. The key -> partition function is passed in: it is the learner's to write.
* :func:`run_lww`: replicas of a set with skewed wall clocks, merged by last-writer-wins or by union,
  to count the updates last-writer-wins silently loses.

Graders (``check_*``)
---------------------
Each takes the learner's class or function, a ``seed`` and a number of ``cases``, builds fresh
learner objects per case, and derives ground truth without a reference implementation:

* clocks: the learner's clock drives every node of a seeded faulty network; every event gets the
  learner's timestamp. Each value is checked against the rule applied to the learner's *own*
  previous value on that node (so one wrong value is blamed once, not in every later event), and
  the timestamps are compared with :meth:`Trace.happens_before`, the causality computed from the
  trace itself;
* reorder buffer: scripted and seeded streams drive ``offer``/``tick``; an oracle checks the
  specification after every call, rather than comparing with a second buffer;
* partition function: range, spread, same key same partition, and the same answers in fresh
  interpreters started with different ``PYTHONHASHSEED`` values.

Every check runs its scripted cases first (numbered ``0..S-1``, each reaching one rule on purpose),
then ``cases`` seeded ones; case ``k`` depends only on the visible ``seed`` and ``k``, and
``check_x(..., seed=seed, case=k)`` replays it alone. On failure a grader shrinks the case
(:func:`gotchalab.check.shrink`) and raises :class:`gotchalab.check.CheckFailure` with a
plain-language category, the visible seed, the shortest failing schedule, a timeline whose event
details carry the learner's timestamps, and the exact call that replays it. A stub fails once with
"not implemented yet" (no seed, schedule or picture).

Rules checked, by graded cell (each by a scripted case that reaches it and by the sweep)
----------------------------------------------------------------------------------------
``lamport_local_tick`` (:func:`check_lamport_monotonic`)
  L1 a fresh clock is 0: a node's first tick()/send() returns exactly 1; L2 tick()/send() return
  exactly the previous time + 1; L3 every event on a node (receive too) gets a strictly larger
  time; L4 every time is an int (not bool, not float).
``lamport_receive_takes_max`` (:func:`check_lamport_receive_takes_max`)
  L5 receive(ts) returns exactly max(previous time, ts) + 1, with the receiver behind, equal to and
  ahead of ts, for duplicate copies, and as a node's first event.
``lamport_respects_happens_before`` (:func:`check_lamport_respects_causality`)
  L6 a happens-before b implies L(a) < L(b), for every pair of events of the run.
``vector_clock_orders_causal_events`` (:func:`check_vector_clock_orders_causal`)
  V1 every stamp is a dict with an int for exactly the given nodes (any names, 2 to 5 nodes);
  V2 a fresh clock is all zeros, tick()/send() add one to the node's own entry only; V3 receive(ts)
  is the element-wise max of the node's vector and ts, own entry + 1; V4 returned dicts are copies
  (a later event does not change them, writing on them does not change the clock) and the clock
  changes neither the ``nodes`` list nor the ``ts`` dict (:func:`_vector_copy_probe`, run through
  :func:`gotchalab.check.beside`); V5 compare() is "before"/"after" on every causally ordered
  pair, "equal" on an event with itself, and right on scripted ordered pairs.
``vector_clock_detects_concurrency`` (:func:`check_vector_clock_detects_concurrency`)
  V6 compare() is "concurrent" on every pair the run leaves unordered and on scripted
  incomparable pairs (equal sums, one entry each way, five nodes).
``reorder_buffer_delivers_in_order`` (:func:`check_reorder_buffer_in_order`)
  B1 offer()/tick() return a list of the offered ``msg`` values; B2 s is delivered only after every
  s' < s was delivered or dead-lettered; B3 an arrived message that can be delivered is delivered
  in the same call; B4 nothing is lost by the final tick.
``reorder_buffer_drops_duplicates`` (:func:`check_reorder_buffer_drops_duplicates`)
  B5 a copy of a delivered, waiting or dead-lettered number is dropped, also while a finite gap
  timeout is pending and for late arrivals after their gap was given up on (timing itself is
  not judged in this cell).
``reorder_buffer_gap_timeout_to_dlq`` (:func:`check_reorder_buffer_gap_timeout`)
  B6 in any call where a waiting message has waited ``now - first arrival >= gap_timeout`` (the
  boundary inclusive; a duplicate does not restart the wait), every missing number before it goes
  to ``dlq`` and it is delivered with what follows; B7 offer() adds its message first, so an
  arrival exactly at the timeout fills its gap; B8 a number is dead-lettered only when a message
  after it has waited gap_timeout, only if it never arrived, never twice; B9 ``dlq`` is a list of
  ints, only appended to, increasing; B10 times are int ms: timeouts from 20 ms to 30 s, clocks
  from 0 or from an epoch in ms (1.7e12), so seconds and milliseconds cannot be confused.
``partition_in_range_and_spread`` (:func:`check_partition_in_range_and_spread`)
  P1 every answer is an int in range(n), n from 1 to 2**31 - 1; P2 keys spread evenly: n <= 32
  within 40 % of the share, n from 100 to 1024 by a chi-square test, n = 10**6 and 2**31 - 1 with
  few collisions, and each shape of key on its own (sequential ids, long common prefixes, common
  suffixes, numbers, uuids, unicode, long and very short keys).
``partition_same_key_same_partition`` (:func:`check_partition_same_key`)
  P3 asked again, in another order, interleaved with other keys and n: the same answer.
``partition_stable_across_processes`` (:func:`check_partition_stable_across_processes`)
  P4 fresh interpreters with other ``PYTHONHASHSEED`` values give the same answers as the
  learner's process (:func:`_stability_probe`, run through :func:`gotchalab.check.beside`).

This module deliberately contains no Lamport clock, vector clock, reorder buffer or partition
function: those are the exercise.
"""

from __future__ import annotations

import json
import linecache
import marshal
import os
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .check import CheckFailure, beside, call, fail, map_calls, passed, shrink
from .sim import Context, Faults, Message, Network, Process
from .trace import DROP, DUP, RECV, SEND, Event, Trace

__all__ = [
    "Producer",
    "ApplyInArrivalOrder",
    "apply_update",
    "run_stream",
    "keyed_workload",
    "simulate_partitions",
    "run_lww",
    "check_lamport_monotonic",
    "check_lamport_receive_takes_max",
    "check_lamport_respects_causality",
    "check_lamport_clock",
    "check_vector_clock_orders_causal",
    "check_vector_clock_detects_concurrency",
    "check_vector_clock",
    "check_reorder_buffer_in_order",
    "check_reorder_buffer_drops_duplicates",
    "check_reorder_buffer_gap_timeout",
    "check_reorder_buffer",
    "check_partition_same_key",
    "check_partition_in_range_and_spread",
    "check_partition_stable_across_processes",
    "check_partition_function",
]


# =============================================================================================
# Demo models
# =============================================================================================


def apply_update(state: dict[str, Any], update: dict[str, Any]) -> None:
    """Apply one update to an account ``state``: ``set_status`` overwrites, ``add`` accumulates.

    ``add`` commutes (any arrival order gives the same balance); ``set_status`` does not (the last
    one to *arrive* wins, whatever order they were sent in).
    """
    op = update.get("op")
    if op == "set_status":
        state["status"] = update["value"]
    elif op == "add":
        state["balance"] = state.get("balance", 0) + update["amount"]
    else:
        raise ValueError(f"unknown update op {op!r}; expected 'set_status' or 'add'")


class Producer(Process):
    """Sends ``updates[i]`` to ``dst`` at time ``i * every``; with ``numbered`` adds ``seq=i``.

    Invariant: sequence numbers are assigned in send order, starting at 0, one per update.
    """

    def __init__(
        self, updates: Sequence[dict[str, Any]], dst: str, every: float, numbered: bool
    ) -> None:
        self._updates = list(updates)
        self._dst = dst
        self._every = every
        self._numbered = numbered

    def start(self, ctx: Context) -> None:
        for i, upd in enumerate(self._updates):
            ctx.after(i * self._every, self._send, i, upd)

    def _send(self, ctx: Context, i: int, upd: dict[str, Any]) -> None:
        payload = {"seq": i, **upd} if self._numbered else dict(upd)
        ctx.send(self._dst, payload)


def _state_text(state: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(state.items()))


class ApplyInArrivalOrder(Process):
    """The naive consumer: applies every copy it receives, in arrival order, and logs the state."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"status": "new", "balance": 0}

    def receive(self, ctx: Context, msg: Message) -> None:
        apply_update(self.state, msg.payload)
        ctx.log("apply", text=_state_text(self.state), state=dict(self.state))


def run_stream(
    seed: int,
    updates: Sequence[dict[str, Any]],
    *,
    faults: Faults | None = None,
    every: float = 10.0,
    numbered: bool = False,
    consumer: Callable[[], Process] = ApplyInArrivalOrder,
) -> tuple[Trace, Process | None]:
    """Send ``updates`` from ``producer`` to ``consumer`` over a faulty network; run it.

    Returns the trace and the consumer's process object (to read its final state).
    """
    net = Network(
        seed=seed,
        nodes={
            "producer": lambda: Producer(updates, "consumer", every, numbered),
            "consumer": consumer,
        },
        faults=faults,
    )
    trace = net.run()
    return trace, net.process("consumer")


def keyed_workload(
    seed: int,
    n_events: int,
    *,
    n_keys: int = 200,
    hot_share: float = 0.0,
    interval: float = 1.0,
    cost: float = 3.0,
) -> list[tuple[float, str, int, float]]:
    """``n_events`` keyed updates ``(arrival_time, key, version, cost)``, one every ``interval``.

    With probability ``hot_share`` an update goes to the single hot key ``"hot"``, otherwise to a
    uniformly chosen ``"key-<i>"``. ``version`` counts the updates of each key from 0, so a
    consumer that sees versions out of order has reordered that key. ``cost`` is the mean time a
    consumer spends on one update (uniform in ``[cost / 2, 3 * cost / 2]``: some updates are slow).
    """
    if not 0.0 <= hot_share <= 1.0:
        raise ValueError(f"hot_share is a fraction in [0, 1], got {hot_share!r}")
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    out = []
    for i in range(n_events):
        key = "hot" if rng.random() < hot_share else f"key-{rng.randrange(n_keys)}"
        v = versions.get(key, 0)
        versions[key] = v + 1
        out.append((i * interval, key, v, round(rng.uniform(0.5 * cost, 1.5 * cost), 3)))
    return out


def simulate_partitions(
    events: Sequence[tuple[float, str, int, float]],
    n_partitions: int,
    assign: Callable[[str, int], int],
) -> dict[str, float]:
    """Run ``events`` through ``n_partitions`` FIFO partitions, one sequential consumer each.

    ``assign(key, i)`` picks the partition of the i-th event (a key hash, or ``i % n`` for
    round-robin). A consumer spends each event's ``cost``. Returns the max and 99th-percentile
    lag (finish - arrival), the events finished per time unit, and ``keys_reordered``: how many keys
    had a later version finish before an earlier one (zero whenever a key sticks to one partition,
    because each partition is FIFO).
    """
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be >= 1, got {n_partitions!r}")
    free = [0.0] * n_partitions
    lags = []
    finished: dict[str, list[tuple[float, int]]] = {}
    for i, (t, key, version, cost) in enumerate(events):
        p = assign(key, i)
        if not (type(p) is int and 0 <= p < n_partitions):
            raise ValueError(
                f"assign({key!r}, {i}) returned {p!r}; expected an int in [0, {n_partitions})"
            )
        start = max(t, free[p])
        free[p] = start + cost
        lags.append(free[p] - t)
        finished.setdefault(key, []).append((free[p], version))
    lags.sort()
    end = max(free)
    reordered = sum(
        1
        for runs in finished.values()
        if [v for _, v in sorted(runs, key=lambda r: r[0])] != sorted(v for _, v in runs)
    )
    return {
        "max_lag": lags[-1] if lags else 0.0,
        "p99_lag": lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0,
        "throughput": len(events) / end if end else 0.0,
        "keys_reordered": float(reordered),
    }


class _SetReplica(Process):
    """A replica of a set of items. Writes add an item and broadcast the replica's whole state.

    ``merge="lww"`` keeps whichever state has the larger (wall-clock timestamp, node) stamp;
    ``merge="union"`` keeps the union of both (a grow-only set: nothing can be lost, nothing removed).
    """

    def __init__(self, name: str, peers: list[str], skew: float, merge: str) -> None:
        self.name = name
        self.peers = peers
        self.skew = skew
        self.merge = merge
        self.items: frozenset[str] = frozenset()
        self.stamp: tuple[float, str] = (float("-inf"), "")

    def write(self, ctx: Context, item: str) -> None:
        self.items = self.items | {item}
        self.stamp = (round(ctx.now + self.skew, 3), self.name)
        ctx.log(
            "write", item=item, wall=self.stamp[0], text=f"add {item} (wall {self.stamp[0]:.1f})"
        )
        for p in self.peers:
            ctx.send(p, {"items": sorted(self.items), "wall": self.stamp[0], "node": self.name})

    def receive(self, ctx: Context, msg: Message) -> None:
        theirs = frozenset(msg.payload["items"])
        stamp = (msg.payload["wall"], msg.payload["node"])
        if self.merge == "union":
            self.items = self.items | theirs
            self.stamp = max(self.stamp, stamp)
        elif stamp > self.stamp:
            lost = sorted(self.items - theirs)
            self.items, self.stamp = theirs, stamp
            if lost:
                ctx.log("overwrite", lost=lost, text=f"LWW drops {','.join(lost)}")


def run_lww(
    seed: int,
    *,
    merge: str = "lww",
    skews: dict[str, float] | None = None,
    writes: int = 4,
    faults: Faults | None = None,
    horizon: float = 100.0,
) -> dict[str, Any]:
    """Replicas with skewed wall clocks each add ``writes`` items at seeded random times.

    Returns the trace, the final item set of each replica, every item written, and ``lost``: the
    written items missing from the union of the final states (silently discarded by the merge).
    """
    if merge not in ("lww", "union"):
        raise ValueError(f"merge must be 'lww' or 'union', got {merge!r}")
    skews = skews or {"A": 0.0, "B": -15.0, "C": 5.0}
    names = list(skews)
    net = Network(
        seed=seed,
        nodes={
            n: (lambda n=n: _SetReplica(n, [p for p in names if p != n], skews[n], merge))
            for n in names
        },
        faults=faults or Faults(delay=(2.0, 12.0)),
    )
    rng = random.Random(seed)
    written = []
    for n in names:
        for k in range(writes):
            item = f"{n.lower()}{k + 1}"
            written.append(item)
            t = round(rng.uniform(0, horizon), 3)
            net.at(t, n, lambda ctx, item=item: net.process(ctx.node).write(ctx, item))
    trace = net.run()
    finals = {n: sorted(net.process(n).items) for n in names}
    kept = set().union(*finals.values())
    return {
        "trace": trace,
        "finals": finals,
        "written": written,
        "lost": sorted(set(written) - kept),
    }


# =============================================================================================
# Shared by the graders: scripted cases first, then a seeded sweep; one case can be replayed
# =============================================================================================


class _Abort(Exception):
    """Learner code broke a case (raised, or returned the wrong type): stop it, report it."""

    def __init__(self, category: str, what: str) -> None:
        super().__init__(what)
        self.category = category
        self.what = what


def _learner(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call learner code inside a case: "not implemented yet" ends the check at once (no seed,
    no schedule); any other exception becomes :class:`_Abort`, so the case can be shrunk and
    reported with its schedule like any other failure."""
    try:
        return call(fn, *args, what=what)
    except CheckFailure as exc:
        if exc.category == "not implemented yet":
            raise CheckFailure(exc.category, exc.what) from None
        raise _Abort(exc.category, exc.what) from None


def _hunt(
    *,
    seed: int,
    cases: int,
    case: int | None,
    scripted: Sequence[Any],
    make_case: Callable[[random.Random], Any],
    run_case: Callable[[Any], str | None],
) -> tuple[Any, str, int] | None:
    """Run the scripted cases (numbers ``0..S-1``), then ``cases`` seeded ones (``S..``).

    Case ``k >= S`` is built by ``make_case(random.Random(seed * 1_000_003 + k))``: it depends on
    the visible ``seed`` and its number only, so ``check_x(..., seed=seed, case=k)`` replays it.
    Returns ``(case, category, k)`` for the first failing case.
    """
    n_scripted = len(scripted)
    if case is not None and not (type(case) is int and case >= 0):
        raise ValueError(f"case must be a case number >= 0, got {case!r}")
    numbers: Iterable[int] = [case] if case is not None else range(n_scripted + cases)
    for k in numbers:
        c = scripted[k] if k < n_scripted else make_case(random.Random(seed * 1_000_003 + k))
        msg = run_case(c)
        if msg:
            return c, msg, k
    return None


def _replay(check: str, args: str, seed: int, k: int) -> str:
    return f"{check}({args}, seed={seed}, case={k})"


def _same_category(
    run_case: Callable[[Any], str | None], category: str
) -> Callable[[Any], str | None]:
    """A shrinking predicate: a smaller case counts only if it fails the *same* way.

    Without this, shrinking can slide from one bug's symptom to another's (a receive that ignores
    the sender, shrunk far enough, looks like a receive that forgot to add one).
    """

    def run(case: Any) -> str | None:
        got = run_case(case)
        return got if got == category else None

    return run


# =============================================================================================
# Clock graders: the learner's clock drives every node of a faulty network
# =============================================================================================
#
# Rules checked (each by scripted cases that reach it, and by the seeded sweep):
#
# Lamport (cell lamport_local_tick, check_lamport_monotonic)
#   L1  the clock starts at 0: a node's first tick()/send() returns exactly 1;
#   L2  tick() and send() return exactly the node's previous time + 1;
#   L3  every event on a node (receive too) gets a strictly larger time than the node's last;
#   L4  every timestamp is an int (not a bool, not a float).
# Lamport (cell lamport_receive_takes_max, check_lamport_receive_takes_max)
#   L5  receive(ts) returns exactly max(previous time, ts) + 1 (previous is 0 on a fresh node),
#       also for a duplicate copy and for a node whose clock is ahead of, equal to or behind ts.
# Lamport (cell lamport_respects_happens_before, check_lamport_respects_causality)
#   L6  a happens-before b (program order and message edges of the run) implies L(a) < L(b).
# Vector (cell vector_clock_orders_causal_events, check_vector_clock_orders_causal)
#   V1  every timestamp is a dict (type dict) with an int entry for exactly the nodes given;
#   V2  the clock starts at all zeros; tick()/send() add exactly one to the node's own entry only;
#   V3  receive(ts) returns the element-wise max of the node's previous vector and ts, with the
#       node's own entry then increased by one;
#   V4  the returned dict is a copy: a later event does not change it, and changing it does not
#       change the clock; the clock changes neither the ``nodes`` list nor the ``ts`` dict it is
#       given (checked beside the learner's code, :func:`_vector_copy_probe`);
#   V5  compare(a, b) is "before"/"after" for every causally ordered pair of the run and "equal"
#       for an event with itself, and for scripted vector pairs (one entry apart, equal sums, ...).
# Vector (cell vector_clock_detects_concurrency, check_vector_clock_detects_concurrency)
#   V6  compare(a, b) is "concurrent" for every pair the run leaves unordered, and for scripted
#       incomparable pairs (equal sums, one entry each way, many nodes).
# Node names vary (single letters, "node-7", "eu-west", non-ASCII, unsorted lists), 2 to 5 nodes.


@dataclass(frozen=True)
class _ClockCase:
    """A scripted run: ``actions`` are ``(time, node, kind, dst)`` with kind "tick" or "send"."""

    seed: int
    nodes: tuple[str, ...]
    actions: tuple[tuple[float, str, str, str | None], ...]
    faults: Faults


_NODE_NAMES = (
    ("A", "B", "C", "D", "E"),
    ("node-1", "node-2", "node-3", "node-4", "node-5"),
    ("eu-west", "us-east", "ap-south", "sa-east", "af-north"),
    ("n3", "n1", "n2", "n5", "n4"),
    ("Zoë", "Łukasz", "Ana", "Ελένη", "Bo"),
)


def _make_clock_case(
    rng: random.Random, *, max_nodes: int = 5, max_actions: int = 14
) -> _ClockCase:
    n = rng.randint(2, max_nodes)
    names = rng.choice(_NODE_NAMES)
    nodes = tuple(names[:n])
    actions = []
    for _ in range(rng.randint(3, max_actions)):
        node = rng.choice(nodes)
        t = float(rng.randint(0, 30))
        if rng.random() < 0.6:
            dst = rng.choice([x for x in nodes if x != node])
            actions.append((t, node, "send", dst))
        else:
            actions.append((t, node, "tick", None))
    actions.sort(key=lambda a: a[0])
    faults = Faults(
        delay=(1.0, rng.choice([1.0, 5.0, 15.0])),
        reorder=rng.choice([0.0, 0.3]),
        reorder_extra=12.0,
        duplicate=rng.choice([0.0, 0.2]),
        drop=rng.choice([0.0, 0.1]),
    )
    return _ClockCase(rng.randrange(2**31), nodes, tuple(actions), faults)


def _scripted_clock(
    nodes: tuple[str, ...], steps: Sequence[str], duplicate: float = 0.0
) -> _ClockCase:
    """A clock case from steps "A tick", "A>B" (A sends to B), one time unit apart.

    Messages take exactly half a time unit, so a message sent at t arrives before the next step.
    """
    actions = []
    for i, s in enumerate(steps):
        if ">" in s:
            a, b = s.split(">")
            actions.append((float(i), a, "send", b))
        else:
            actions.append((float(i), s.split()[0], "tick", None))
    return _ClockCase(1, nodes, tuple(actions), Faults(delay=(0.5, 0.5), duplicate=duplicate))


_AB = ("A", "B")
_CLOCK_SCRIPTS: tuple[_ClockCase, ...] = (
    # a fresh clock's first events: 1, 2, 3 (starts at 0, adds exactly one)
    _scripted_clock(_AB, ["A tick", "A tick", "A tick"]),
    _scripted_clock(_AB, ["A>B"]),
    _scripted_clock(_AB, ["A>B", "A>B", "A tick", "A>B"]),
    # receiver behind the sender: the receive jumps to ts + 1
    _scripted_clock(_AB, ["A tick", "A tick", "A tick", "A>B", "B tick"]),
    # receiver ahead of the sender: the receive is local + 1
    _scripted_clock(_AB, ["B tick", "B tick", "B tick", "B tick", "A>B", "B tick"]),
    # receiver equal to the sender
    _scripted_clock(_AB, ["A tick", "B tick", "A>B"]),
    _scripted_clock(_AB, ["B tick", "B tick", "A tick", "A>B"]),
    # a duplicate copy is a second receive event
    _scripted_clock(_AB, ["A tick", "A tick", "A>B", "B tick"], duplicate=1.0),
    # a chain through three nodes, and back
    _scripted_clock(("A", "B", "C"), ["A tick", "A>B", "B>C", "C tick", "C>A", "A tick"]),
    # unusual names, unsorted node list
    _scripted_clock(
        ("node-2", "node-1", "Zoë"),
        ["Zoë tick", "Zoë>node-1", "node-2 tick", "node-1>node-2", "node-2>Zoë"],
    ),
    # two concurrent sends that cross, then more local events
    _scripted_clock(("A", "B", "C"), ["A>B", "B>A", "C tick", "C>B", "A tick", "B tick"]),
)


def _smaller_clock_cases(case: _ClockCase) -> Iterable[_ClockCase]:
    # Simplest first: no faults at all, then one fault fewer, then one action fewer.
    plain = replace(case, faults=Faults(delay=case.faults.delay))
    if plain != case:
        yield plain
    for name in ("drop", "duplicate", "reorder"):
        if getattr(case.faults, name):
            yield replace(case, faults=replace(case.faults, **{name: 0.0}))
    if case.faults.delay != (1.0, 1.0) and case.faults.delay != (0.5, 0.5):
        yield replace(case, faults=replace(case.faults, delay=(1.0, 1.0)))
    for i in range(len(case.actions)):
        if len(case.actions) > 1:
            yield replace(case, actions=case.actions[:i] + case.actions[i + 1 :])


class _Stamped:
    """The run of one clock case: the trace, the learner's timestamp of each stamped event, and
    the learner's error (category, what) that stopped the run, if any."""

    def __init__(
        self, trace: Trace, stamps: dict[int, Any], error: tuple[str, str] | None = None
    ) -> None:
        self.trace = trace
        self.stamps = stamps
        self.error = error


class _ClockNode(Process):
    """A node whose every event (tick, send, receive) is stamped by the learner's clock."""

    def __init__(
        self, clock: Any, trace: Trace, stamps: dict[int, Any], canon: Callable[[Any, str], Any]
    ) -> None:
        self.clock = clock
        self.trace = trace
        self.stamps = stamps
        self.canon = canon

    def receive(self, ctx: Context, msg: Message) -> None:
        idx = len(self.trace) - 1  # the network recorded this RECV just before calling us
        got = _learner(
            self.clock.receive,
            _copy_plain(msg.payload["ts"]),
            what=f"receive({msg.payload['ts']!r}) on node {ctx.node}",
        )
        self.stamps[idx] = self.canon(got, f"receive({msg.payload['ts']!r}) on node {ctx.node}")


def _copy_plain(v: Any) -> Any:
    return dict(v) if type(v) is dict else v


def _run_clock_case(
    case: _ClockCase, make_clock: Callable[[str, tuple[str, ...]], Any], kind: str
) -> _Stamped:
    """Run ``case`` with a fresh learner clock per node; stamp every tick, send and receive."""
    stamps: dict[int, Any] = {}
    net = Network(seed=case.seed, nodes={}, faults=case.faults)
    trace = net.trace

    def canon(v: Any, where: str) -> Any:
        return _canon_stamp(v, kind, case.nodes, where)

    for n in case.nodes:
        net.add_node(n, lambda n=n: _ClockNode(make_clock(n, case.nodes), trace, stamps, canon))

    def act(ctx: Context, action: tuple) -> None:
        _, node, what, dst = action
        clock = net.process(node).clock
        if what == "tick":
            got = _learner(clock.tick, what=f"tick() on node {node}")
            v = canon(got, f"tick() on node {node}")
            ctx.log("tick", clock=v)
            stamps[len(trace) - 1] = v
        else:
            got = _learner(clock.send, what=f"send() on node {node}")
            v = canon(got, f"send() on node {node}")
            idx = len(trace)  # the SEND is the next event recorded
            ctx.send(dst, {"ts": v})
            stamps[idx] = v

    for a in case.actions:
        net.at(a[0], a[1], lambda ctx, a=a: act(ctx, a))
    try:
        net.run()
    except _Abort as exc:
        return _Stamped(trace, stamps, (exc.category, exc.what))
    return _Stamped(trace, stamps)


def _canon_stamp(v: Any, kind: str, nodes: tuple[str, ...], where: str) -> Any:
    """A plain copy of a learner timestamp, or :class:`_Abort` saying what type was expected."""
    if kind == "lamport":
        if type(v) is int:
            return v
        expected = "an int (the Lamport time of this event)"
    else:
        if type(v) is dict and set(v) == set(nodes) and all(type(c) is int for c in v.values()):
            return {k: v[k] for k in nodes}
        expected = f"a dict with an int count for every node of {list(nodes)} and no other key"
    raise _Abort(
        "timestamp has the wrong type",
        f"{where} returned {v!r} ({type(v).__name__}); expected {expected}",
    )


def _stamped_trace(run: _Stamped, highlight: dict[int, str]) -> tuple[Trace, dict[int, str]]:
    """The run's trace with the learner's timestamp in each stamped event's detail."""
    events = []
    for i, e in enumerate(run.trace):
        if i in run.stamps and e.event != SEND:
            events.append(Event(e.time, e.node, e.event, {**e.detail, "clock": run.stamps[i]}))
        else:
            events.append(e)
    return Trace(events, seed=run.trace.seed, nodes=run.trace.nodes, meta=run.trace.meta), highlight


def _describe_stamped(run: _Stamped) -> list[str]:
    lines = []
    for i, e in enumerate(run.trace):
        if e.event in (DUP,):
            continue
        s = e.describe()
        if i in run.stamps and e.event != "tick":  # a tick's description shows its clock already
            s += f"   [your clock: {json.dumps(run.stamps[i], ensure_ascii=False)}]"
        lines.append(s)
    return lines


def _bits(x: int) -> Iterable[int]:
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


_AMBIGUOUS = "receive did not return max(local, ts) + 1"


def _kind_of(e: Event) -> str:
    return "receive" if e.event == RECV else ("send" if e.event == SEND else "tick")


def _error_verdict(run: _Stamped) -> tuple[str, str, dict[int, str]] | None:
    if run.error is None:
        return None
    last = len(run.trace) - 1
    return run.error[0], run.error[1], ({last: run.error[0]} if last >= 0 else {})


def _lamport_violation(run: _Stamped, aspect: str) -> tuple[str, str, dict[int, str]] | None:
    """The first broken Lamport rule of ``aspect`` in ``run``: (category, what, highlight)."""
    err = _error_verdict(run)
    if err:
        return err
    tr, st = run.trace, run.stamps
    if aspect == "monotonic":  # L1-L3
        last: dict[str, int] = {}
        for i, e in enumerate(tr):
            if i not in st:
                continue
            j = last.get(e.node)
            prev = 0 if j is None else st[j]
            kind = _kind_of(e)
            got = st[i]
            before = (
                "a fresh clock is 0"
                if j is None
                else f"the node's previous event #{j + 1} had {prev}"
            )
            hl = (
                {i: f"{kind} -> {got}"}
                if j is None
                else {j: f"previous: {prev}", i: f"then: {got}"}
            )
            if kind != "receive" and got != prev + 1:
                if j is None:
                    cat = "first event is not 1"
                elif got < prev:
                    cat = f"clock went backwards on {kind}"
                elif got == prev:
                    cat = f"clock did not advance on {kind}"
                else:
                    cat = f"{kind}() did not add exactly one"
                return (
                    cat,
                    f"on node {e.node} event #{i + 1} ({kind}) got clock {got}, but {before}; "
                    f"{kind}() must return the node's previous time + 1 = {prev + 1}",
                    hl,
                )
            if kind == "receive" and not got > prev:
                cat = (
                    "clock went backwards on receive"
                    if got < prev
                    else ("clock did not advance on receive")
                )
                return (
                    cat,
                    f"on node {e.node} event #{i + 1} (receive) got clock {got}, but {before}; "
                    "every event on a node must get a strictly larger Lamport time",
                    hl,
                )
            last[e.node] = i
        return None
    if aspect == "receive":  # L5
        send_of = {e.detail["msg"]: k for k, e in enumerate(tr) if e.event == SEND}
        prev: dict[str, int] = {}  # the node's clock before this event (0 before its first)
        fallback = None
        for r, e in enumerate(tr):
            if r not in st:
                continue
            p = prev.get(e.node, 0)
            prev[e.node] = st[r]
            s = send_of.get(e.detail["msg"]) if e.event == RECV else None
            if s is None or s not in st:
                continue
            ts, got = st[s], st[r]
            want = max(p, ts) + 1
            if got == want:
                continue
            what = (
                f"event #{r + 1}: {e.node}'s clock was {p}, it received a message stamped {ts} "
                f"and receive() returned {got}; it must return max({p}, {ts}) + 1 = {want}"
            )
            hl = {s: f"sent with {ts}", r: f"receive -> {got}"}
            # Name the mistake only when the numbers tell the classic ones apart.
            if got == p + 1 and got != max(p, ts):
                return "receive ignored the sender's clock", what, hl
            if got == max(p, ts) and got != p + 1:
                return "receive did not add one", what, hl
            if got == ts + 1 and p > ts:
                return "receive ignored its own clock", what, hl
            fallback = fallback or (_AMBIGUOUS, what, hl)
        return fallback
    hb = tr.happens_before()  # L6
    for j in sorted(st):
        for i in _bits(hb[j]):
            if i in st and not st[i] < st[j]:
                return (
                    "clock contradicts happens-before",
                    f"event #{i + 1} ({tr[i].describe()}) happens before event #{j + 1} "
                    f"({tr[j].describe()}), but your clock gave them {st[i]} and {st[j]}; "
                    "a -> b must imply L(a) < L(b)",
                    {i: f"cause: {st[i]}", j: f"effect: {st[j]}"},
                )
    return None


def _clock_check(
    cls: Any,
    *,
    kind: str,
    judge: Callable[[_Stamped], tuple[str, str, dict[int, str]] | None],
    what: str,
    seed: int,
    cases: int,
    case: int | None,
    check: str,
    args: str,
    make_case: Callable[[random.Random], _ClockCase] = _make_clock_case,
) -> None:
    started = time.perf_counter()
    name = args.split(",")[0]
    if kind == "lamport":

        def make_clock(node: str, nodes: tuple[str, ...]) -> Any:
            return _learner(cls, what=f"{name}()")
    else:

        def make_clock(node: str, nodes: tuple[str, ...]) -> Any:
            return _learner(cls, node, list(nodes), what=f"{name}({node!r}, {list(nodes)})")

    def run_case(c: _ClockCase) -> str | None:
        v = judge(_run_clock_case(c, make_clock, kind))
        return None if v is None else v[0]

    found = _hunt(
        seed=seed,
        cases=cases,
        case=case,
        scripted=_CLOCK_SCRIPTS,
        make_case=make_case,
        run_case=run_case,
    )
    if found is None:
        passed(what, (1 if case is not None else len(_CLOCK_SCRIPTS) + cases), started)
        return
    c, category, k = found
    if category == _AMBIGUOUS and case is None:
        # The numbers of this run fit two mistakes; look a little further for a run that names one.
        for k2 in range(k + 1, min(len(_CLOCK_SCRIPTS) + cases, k + 300)):
            cand = (
                _CLOCK_SCRIPTS[k2]
                if k2 < len(_CLOCK_SCRIPTS)
                else make_case(random.Random(seed * 1_000_003 + k2))
            )
            got = run_case(cand)
            if got and got != _AMBIGUOUS:
                c, category, k = cand, got, k2
                break
    c, _msg = shrink(c, _same_category(run_case, category), _smaller_clock_cases, budget=400)
    run = _run_clock_case(c, make_clock, kind)
    category, detail, highlight = judge(run)
    trace, highlight = _stamped_trace(run, highlight)
    fail(
        category,
        detail,
        seed=seed,
        schedule=_describe_stamped(run),
        trace=trace,
        highlight=highlight,
        replay=_replay(check, args, seed, k),
    )


def check_lamport_monotonic(
    LamportClock: Any, *, seed: int = 0, cases: int = 1500, case: int | None = None
) -> None:
    """The clock starts at 0; tick()/send() add exactly one; every event on a node (receive too)
    gets a strictly larger Lamport time (rules L1-L4)."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "monotonic"),
        what="Lamport clock starts at 0 and advances on every event of a node",
        seed=seed,
        cases=cases,
        case=case,
        check="check_lamport_monotonic",
        args="LamportClock",
    )


def check_lamport_receive_takes_max(
    LamportClock: Any, *, seed: int = 0, cases: int = 1500, case: int | None = None
) -> None:
    """Every receive(ts) returns exactly max(the node's previous time, ts) + 1 (rule L5)."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "receive"),
        what="Lamport receive returns max(local, ts) + 1",
        seed=seed,
        cases=cases,
        case=case,
        check="check_lamport_receive_takes_max",
        args="LamportClock",
    )


def check_lamport_respects_causality(
    LamportClock: Any, *, seed: int = 0, cases: int = 1200, case: int | None = None
) -> None:
    """For every pair of events: a happens-before b (from the trace) implies L(a) < L(b) (L6)."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "causality"),
        what="Lamport clock respects happens-before on every pair of events",
        seed=seed,
        cases=cases,
        case=case,
        check="check_lamport_respects_causality",
        args="LamportClock",
    )


def check_lamport_clock(LamportClock: Any, *, seed: int = 0, cases: int = 1000) -> None:
    """All three Lamport checks."""
    check_lamport_monotonic(LamportClock, seed=seed, cases=cases)
    check_lamport_receive_takes_max(LamportClock, seed=seed, cases=cases)
    check_lamport_respects_causality(LamportClock, seed=seed, cases=cases)


_RELATIONS = ("before", "after", "concurrent", "equal")


def _vector_exact(run: _Stamped) -> tuple[str, str, dict[int, str]] | None:
    """Rules V2, V3: each event's vector, from the node's previous vector (zeros at the start)."""
    tr, st = run.trace, run.stamps
    nodes = list(tr.nodes)
    send_of = {e.detail["msg"]: k for k, e in enumerate(tr) if e.event == SEND}
    prev: dict[str, tuple[int | None, dict[str, int]]] = {}
    for i, e in enumerate(tr):
        if i not in st:
            continue
        j, p = prev.get(e.node, (None, dict.fromkeys(nodes, 0)))
        kind = _kind_of(e)
        got = st[i]
        if kind == "receive":
            s = send_of.get(e.detail["msg"])
            ts = st.get(s) if s is not None else None
            if ts is None:  # the send was not stamped (cannot happen after a clean run)
                prev[e.node] = (i, got)
                continue
            want = {n: max(p[n], ts[n]) for n in nodes}
            want[e.node] += 1
            rule = (
                f"receive({ts}) on node {e.node}, whose vector was {p}, must return the "
                f"element-wise max of the two with {e.node}'s own entry then + 1"
            )
            hl = {s: f"sent with {ts}", i: f"receive -> {got}"}
        else:
            want = dict(p)
            want[e.node] += 1
            rule = (
                f"{kind}() on node {e.node}, whose vector was {p}"
                + (" (a fresh clock is all zeros)" if j is None else "")
                + f", must add one to {e.node}'s own entry and leave the others"
            )
            hl = {i: f"{kind} -> {got}"} if j is None else {j: f"before: {p}", i: f"then: {got}"}
        if got == want:
            prev[e.node] = (i, got)
            continue
        if kind == "receive":
            others = [n for n in nodes if n != e.node]
            if all(got[n] == p[n] for n in others) and any(ts[n] > p[n] for n in others):
                cat = "receive did not merge the sender's vector"
            elif got[e.node] != want[e.node] and all(got[n] == want[n] for n in others):
                cat = "receive did not add one to the node's own entry"
            else:
                cat = "receive returned the wrong vector"
        elif j is None and any(got[n] != 0 for n in nodes if n != e.node):
            cat = "vector clock did not start at all zeros"
        else:
            cat = f"{kind}() did not add exactly one to the node's own entry"
        return (
            cat,
            f"event #{i + 1}: {rule}: expected {want}, got {got}",
            hl,
        )
    return None


def _vector_judge(
    compare: Callable[[Any, Any], Any], want: str
) -> Callable[[_Stamped], tuple[str, str, dict[int, str]] | None]:
    """Compare the learner's verdict with the trace's causality on every pair of stamped events.

    ``want="causal"`` checks the vectors themselves (V2, V3), then pairs the trace orders (and
    each event against itself, "equal"); ``want="concurrent"`` checks pairs the trace leaves
    concurrent.
    """

    def judge(run: _Stamped) -> tuple[str, str, dict[int, str]] | None:
        err = _error_verdict(run)
        if err:
            return err
        if want == "causal":
            exact = _vector_exact(run)
            if exact:
                return exact
        tr, st = run.trace, run.stamps
        hb = tr.happens_before()
        idx = sorted(st)
        # The pairs this aspect looks at, with the trace's verdict on each.
        pairs = []
        for a_pos, x in enumerate(idx):
            if want == "causal":
                pairs.append((x, x, "equal"))
            for y in idx[a_pos + 1 :]:
                truth = "before" if hb[y] >> x & 1 else "after" if hb[x] >> y & 1 else "concurrent"
                if (truth == "concurrent") == (want == "concurrent"):
                    pairs.append((x, y, truth))
        # One batch for all pairs (one round trip when compare lives in the learner's process).
        try:
            answers = map_calls(compare, [(dict(st[x]), dict(st[y])) for x, y, _ in pairs])
        except Exception:
            for x, y, _t in pairs:  # replay one by one: the verdict names the pair that raised
                try:
                    _learner(compare, dict(st[x]), dict(st[y]), what=f"compare({st[x]}, {st[y]})")
                except _Abort as exc:
                    return exc.category, exc.what, {x: f"a = {st[x]}", y: f"b = {st[y]}"}
            raise
        bad = None
        if type(answers) is not list or len(answers) != len(pairs):
            return ("compare returned something else", f"compare answered {answers!r:.200}", {})
        for (x, y, truth), got in zip(pairs, answers, strict=True):
            if not (type(got) is str and got == truth):
                bad = x, y, truth, got
                break
        if bad is None:
            return None
        x, y, truth, got = bad
        cat = _compare_category(truth, got)
        ex, ey = tr[x].describe(), tr[y].describe()
        return (
            cat,
            f"compare({st[x]}, {st[y]}) returned {got!r}, but in the trace event "
            f"#{x + 1} ({ex}) is {truth!r} event #{y + 1} ({ey}); expected {truth!r}",
            {x: f"a = {st[x]}", y: f"b = {st[y]}"} if x != y else {x: f"a = b = {st[x]}"},
        )

    return judge


def _compare_category(truth: str, got: Any) -> str:
    if not (type(got) is str and got in _RELATIONS):
        return "compare returned something else"
    if truth == "concurrent":
        return "called concurrent events ordered"
    if got == "concurrent":
        return "called causally ordered events concurrent"
    if truth == "equal" or got == "equal":
        return (
            "equal vectors not called equal"
            if truth == "equal"
            else "called different vectors equal"
        )
    return "ordered events the wrong way"


def _vec(names: str, *counts: int) -> dict[str, int]:
    return dict(zip(names.split(), counts, strict=True))


# Scripted compare() pairs: (a, b, relation). Orders (V5): one entry apart, several apart, equal,
# with zeros, with many nodes, non-ASCII names.
_COMPARE_ORDERED: tuple[tuple[dict[str, int], dict[str, int], str], ...] = (
    (_vec("A B", 0, 0), _vec("A B", 0, 0), "equal"),
    (_vec("A B", 3, 5), _vec("A B", 3, 5), "equal"),
    (_vec("A B", 1, 0), _vec("A B", 1, 1), "before"),
    (_vec("A B", 1, 1), _vec("A B", 1, 0), "after"),
    (_vec("A B", 0, 1), _vec("A B", 2, 1), "before"),
    (_vec("A B C", 2, 0, 1), _vec("A B C", 2, 3, 1), "before"),
    (_vec("A B C", 2, 3, 1), _vec("A B C", 2, 0, 1), "after"),
    (_vec("A B C", 0, 0, 0), _vec("A B C", 0, 0, 9), "before"),
    (_vec("x y z w v", 1, 2, 3, 4, 5), _vec("x y z w v", 1, 2, 3, 4, 6), "before"),
    (_vec("x y z w v", 9, 2, 3, 4, 5), _vec("x y z w v", 1, 2, 3, 4, 5), "after"),
    (_vec("Zoë node-1", 4, 0), _vec("Zoë node-1", 4, 7), "before"),
)
# Incomparable pairs (V6): equal sums, one entry each way, many nodes, big counts.
_COMPARE_CONCURRENT: tuple[tuple[dict[str, int], dict[str, int], str], ...] = (
    (_vec("A B", 1, 0), _vec("A B", 0, 1), "concurrent"),
    (_vec("A B", 0, 1), _vec("A B", 1, 0), "concurrent"),
    (_vec("A B", 5, 0), _vec("A B", 0, 1), "concurrent"),
    (_vec("A B", 2, 1), _vec("A B", 1, 9), "concurrent"),
    (_vec("A B C", 1, 1, 0), _vec("A B C", 1, 0, 1), "concurrent"),
    (_vec("A B C", 3, 0, 0), _vec("A B C", 2, 5, 5), "concurrent"),
    (_vec("x y z w v", 1, 2, 3, 4, 5), _vec("x y z w v", 1, 2, 3, 5, 4), "concurrent"),
    (_vec("x y z w v", 0, 0, 0, 0, 1), _vec("x y z w v", 100, 100, 100, 100, 0), "concurrent"),
    (_vec("Zoë node-1", 4, 0), _vec("Zoë node-1", 3, 7), "concurrent"),
)


def _compare_scripted(
    compare: Callable[[Any, Any], Any], table: Sequence[tuple[dict, dict, str]]
) -> None:
    for a, b, truth in table:
        got = call(compare, dict(a), dict(b), what=f"compare({a}, {b})")
        if not (type(got) is str and got == truth):
            fail(
                _compare_category(truth, got),
                f"compare({a}, {b}) returned {got!r}; expected {truth!r}"
                + (
                    " (every entry of a <= b's, at least one smaller: before)"
                    if truth == "before"
                    else " (a after b: every entry of b <= a's, one smaller)"
                    if truth == "after"
                    else " (the same vector)"
                    if truth == "equal"
                    else " (neither is <= the other entry by entry)"
                ),
                expected=truth,
                got=got,
                replay=f"compare({a}, {b})",
            )


def _vector_copy_probe(VectorClock: Any) -> list[str]:
    """Rule V4, run beside the learner's code (it needs the learner's own objects).

    Returns what went wrong, as plain strings: "not implemented: ..." for a stub, otherwise one
    sentence per broken rule (empty when all is well). Exceptions from the learner's code are
    returned as text too, so that the checker can report them in its own words.
    """
    problems: list[str] = []
    nodes = ["n1", "n2", "n3"]
    given = list(nodes)
    step = "VectorClock('n1', ['n1', 'n2', 'n3'])"
    try:
        a = VectorClock("n1", given)
        if given != nodes:
            problems.append(f"{step} changed the nodes list it was given into {given!r}")
        step = "tick()"
        t1 = a.tick()
        if type(t1) is not dict:
            return problems
        snap1 = dict(t1)
        step = "send()"
        t2 = a.send()
        if t1 != snap1:
            problems.append(
                f"the dict tick() returned changed from {snap1} to {t1} when send() ran next: "
                "tick() returned the clock's internal dict, not a copy"
            )
            return problems
        if type(t2) is not dict:
            return problems
        snap2 = dict(t2)
        t2["n2"] = 1000  # the caller writes on what it was given
        step = "tick() (after the caller changed the dict send() returned)"
        t3 = a.tick()
        if type(t3) is dict and t3.get("n2") == 1000:
            problems.append(
                f"after the caller changed the dict send() returned ({snap2}) to {t2}, the "
                f"next tick() returned {t3}: send() returned the clock's internal dict, not a copy"
            )
            return problems
        ts = {"n1": 0, "n2": 4, "n3": 1}
        sent = dict(ts)
        b = VectorClock("n2", list(nodes))
        step = f"receive({sent}) on a fresh clock of n2"
        r = b.receive(ts)
        if ts != sent:
            problems.append(
                f"receive({sent}) changed the dict it was given into {ts}: the message's "
                "timestamp belongs to the sender; copy it before changing anything"
            )
            return problems
        step = "tick() after receive()"
        snap_r = dict(r) if type(r) is dict else None
        b.tick()
        if ts != sent:
            problems.append(
                f"after receive({sent}), the next tick() changed the dict receive() was given "
                f"into {ts}: the clock kept the sender's dict as its own"
            )
        elif snap_r is not None and r != snap_r:
            problems.append(
                f"the dict receive() returned changed from {snap_r} to {r} when tick() ran "
                "next: receive() returned the clock's internal dict, not a copy"
            )
    except NotImplementedError:
        return [f"not implemented: {step} raised NotImplementedError"]
    except Exception as exc:  # reported by the checker; the sweep names the same error
        problems.append(f"{step} raised {type(exc).__name__}: {exc}")
    return problems


def check_vector_clock_orders_causal(
    VectorClock: Any,
    compare: Callable[[Any, Any], Any],
    *,
    seed: int = 0,
    cases: int = 700,
    case: int | None = None,
) -> None:
    """Every vector is exact (own entry counts the node's events; receive merges by element-wise
    max, then adds one); the returned dicts are copies; compare() says "before"/"after" for every
    causally ordered pair and "equal" for an event itself (rules V1-V5)."""
    started = time.perf_counter()
    if case is None:
        _compare_scripted(compare, _COMPARE_ORDERED)
    _clock_check(
        VectorClock,
        kind="vector",
        judge=_vector_judge(compare, "causal"),
        what="vector clock stamps every event exactly and orders every causally related pair",
        seed=seed,
        cases=cases,
        case=case,
        check="check_vector_clock_orders_causal",
        args="VectorClock, compare",
    )
    if case is None:
        problems = beside(_vector_copy_probe, VectorClock)
        if not (type(problems) is list and all(type(p) is str for p in problems)):
            fail("vector clock probe failed", f"the copy probe returned {problems!r}")
        for p in problems:
            if p.startswith("not implemented: "):
                fail("not implemented yet", p[len("not implemented: ") :])
            fail(
                "vector clock shares a dict with its caller",
                p,
                hint="return dict(self.counts) from every method, and never store or change "
                "the dict passed to receive()",
            )
        took = time.perf_counter() - started
        print(
            f"  and returned vectors are copies; the caller's dicts are left alone ({took:.2f} s)"
        )


def check_vector_clock_detects_concurrency(
    VectorClock: Any,
    compare: Callable[[Any, Any], Any],
    *,
    seed: int = 0,
    cases: int = 700,
    case: int | None = None,
) -> None:
    """compare() says "concurrent" for every pair of events the trace leaves unordered (V6)."""
    if case is None:
        _compare_scripted(compare, _COMPARE_CONCURRENT)
    _clock_check(
        VectorClock,
        kind="vector",
        judge=_vector_judge(compare, "concurrent"),
        what="vector clock calls every concurrent pair concurrent",
        seed=seed,
        cases=cases,
        case=case,
        check="check_vector_clock_detects_concurrency",
        args="VectorClock, compare",
    )


def check_vector_clock(
    VectorClock: Any, compare: Callable[[Any, Any], Any], *, seed: int = 0, cases: int = 500
) -> None:
    """Both vector clock checks."""
    check_vector_clock_orders_causal(VectorClock, compare, seed=seed, cases=cases)
    check_vector_clock_detects_concurrency(VectorClock, compare, seed=seed, cases=cases)


# =============================================================================================
# Reorder buffer grader: a spec-level oracle over scripted and seeded faulty streams
# =============================================================================================
#
# Rules checked after every call (offer or tick), by scripted streams that reach each one and by
# seeded streams over the faulty network (reordered, duplicated, lossy, with late arrivals):
#
# Cell reorder_buffer_delivers_in_order (check_reorder_buffer_in_order; no loss)
#   B1  offer()/tick() return a list (type list) of messages that were offered (the same values);
#   B2  message s is delivered only once every s' < s was delivered or dead-lettered, in
#       increasing order;
#   B3  as soon as that holds for an arrived message it is delivered in the same call;
#   B4  nothing is lost: by the final tick every arrived message is delivered.
# Cell reorder_buffer_drops_duplicates (check_reorder_buffer_drops_duplicates)
#   B5  a copy of a delivered, waiting or dead-lettered number is dropped (also a late arrival
#       after its gap was given up on, and its duplicates), with finite gap timeouts pending;
#       (timing rules are not this cell's business: a late give-up is not counted here)
# Cell reorder_buffer_gap_timeout_to_dlq (check_reorder_buffer_gap_timeout; lossy, duplicated)
#   B6  in any call where a waiting message has waited now - first_arrival >= gap_timeout, every
#       missing number before it goes to ``dlq`` and it is delivered with what follows it; the
#       boundary is inclusive, a duplicate does not restart the wait;
#   B7  offer() adds its message first: an arrival exactly at the timeout fills its gap;
#   B8  a number goes to the DLQ only when a message after it has waited gap_timeout, and only
#       if it never arrived; never twice;
#   B9  ``dlq`` is a list of ints, only appended to, strictly increasing;
#   B10 the times are int milliseconds: timeouts from 20 ms to 30 s, clocks that start at 0 or at
#       an epoch in milliseconds (1.7e12), so seconds and milliseconds cannot be confused.


@dataclass(frozen=True)
class _BufferCase:
    """A stream: ``sends`` are (seq, sent_at, msg id); ``steps`` are the calls made on the buffer.

    A step is ``("offer", now, seq, msg id)`` or ``("tick", now, None, None)``; times are int
    milliseconds, non-decreasing. A final ``tick(last + gap_timeout)`` is always added by the runner.
    Message ``seq`` carries the payload ``tag + str(seq)``.
    """

    seed: int
    gap_timeout: int
    sends: tuple[tuple[int, int, str], ...]
    steps: tuple[tuple[str, int, int | None, str | None], ...]
    faults: str
    tag: str = "event-"


_ENDLESS = 10**9  # a gap_timeout no stream reaches: only order and completeness are tested


def _payload(seq: int, tag: str = "event-") -> str:
    return f"{tag}{seq}"


def _make_buffer_case(rng: random.Random, mode: str) -> _BufferCase:
    """A seeded stream over :class:`Network`: ``mode`` picks which faults the stream has."""
    n = rng.randint(3, 12)
    scale = rng.choice([1, 1, 1, 100, 1000])  # 10 ms, 1 s or 10 s between sends
    offset = rng.choice([0, 0, 3_600_000, 1_700_000_000_000])
    tag = rng.choice(["event-", "event-", "order:", "", "msg #"])
    if mode == "in_order":
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0, 60.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=50.0,
        )
        # Patience no message of this stream reaches (waits are at most 110 units).
        timeout = rng.choice([_ENDLESS, _ENDLESS, 250 * scale])
    elif mode == "duplicates":
        endless = rng.random() < 0.5
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=rng.choice([50.0, 120.0]),
            duplicate=rng.choice([0.3, 0.6]),
            drop=0.0 if endless else rng.choice([0.0, 0.15]),
        )
        timeout = _ENDLESS if endless else rng.choice([20, 50, 80]) * scale
    else:
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=rng.choice([40.0, 120.0]),
            drop=rng.choice([0.15, 0.3]),
            duplicate=rng.choice([0.0, 0.0, 0.3]),
        )
        timeout = rng.choice([20, 50, 80]) * scale
    received: list[tuple[int, int, str]] = []
    sends: list[tuple[int, int, str]] = []

    class Consumer(Process):
        def receive(self, ctx: Context, msg: Message) -> None:
            received.append((offset + round(ctx.now * scale), msg.payload["seq"], msg.id))

    net = Network(
        seed=rng.randrange(2**31),
        nodes={
            "producer": lambda: Producer([{}] * n, "consumer", 10.0, True),
            "consumer": Consumer,
        },
        faults=faults,
    )
    trace = net.run()
    for e in trace:
        if e.event == SEND:
            sends.append(
                (e.detail["payload"]["seq"], offset + round(e.time * scale), e.detail["msg"])
            )
    steps: list[tuple[str, int, int | None, str | None]] = [
        ("offer", t, s, m) for t, s, m in received
    ]
    # Ticks: some at random times, some exactly when a waiting message reaches the timeout.
    horizon = max((t for t, _, _ in received), default=offset)
    for _ in range(rng.randint(0, 6)):
        steps.append(("tick", rng.randint(offset, horizon + 10 * scale), None, None))
    if timeout < _ENDLESS:
        for t, _, _ in received:
            if rng.random() < 0.4:
                steps.append(("tick", t + timeout + rng.choice([-1, 0, 0, 1]), None, None))
    steps.sort(key=lambda s: (s[1], s[0] == "tick"))
    return _BufferCase(net.seed, timeout, tuple(sends), tuple(steps), faults.summary(), tag)


def _script(
    gap_timeout: int, events: Sequence[tuple[int, int | None]], *, tag: str = "event-"
) -> _BufferCase:
    """A scripted stream: ``events`` are ``(now, seq)`` for an offer, ``(now, None)`` for a tick,
    in call order. Numbers up to the largest offered are sent; those never offered are lost."""
    offered = [s for _, s in events if s is not None]
    top = max(offered, default=-1)
    start = min(t for t, _ in events)
    first = {}
    for t, s in events:
        if s is not None:
            first.setdefault(s, t)
    sends = tuple((s, min(first.get(s, start), start + s), f"m{s + 1}") for s in range(top + 1))
    steps = tuple(
        ("tick", t, None, None) if s is None else ("offer", t, s, f"m{s + 1}") for t, s in events
    )
    return _BufferCase(0, gap_timeout, sends, steps, "scripted", tag)


_EPOCH = 1_700_000_000_000  # a wall clock in milliseconds

_BUFFER_SCRIPTS: dict[str, tuple[_BufferCase, ...]] = {
    "in_order": (
        _script(_ENDLESS, [(0, 0), (1, 1), (2, 2)]),  # in order: each delivered at once
        _script(_ENDLESS, [(0, 1), (5, 0)]),  # 1 waits for 0, both delivered by offer(0)
        _script(_ENDLESS, [(0, 2), (1, 1), (2, 0), (3, 3)]),
        _script(_ENDLESS, [(0, 3), (1, 5), (2, 1), (3, 0), (4, None), (5, 2), (6, 4)]),
        _script(_ENDLESS, [(0, 5), (0, 4), (0, 3), (0, 2), (0, 1), (0, 0)], tag=""),
        _script(
            5_000, [(_EPOCH, 1), (_EPOCH + 10, None), (_EPOCH + 4_000, 0), (_EPOCH + 4_001, 2)]
        ),
        _script(_ENDLESS, [(7, None), (9, 0), (12, 2), (20, None), (21, 1)], tag="order:"),
    ),
    "duplicates": (
        _script(_ENDLESS, [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)]),  # copies of delivered ones
        _script(_ENDLESS, [(0, 1), (1, 1), (2, 1), (3, 0), (4, 1)]),  # copies of a waiting one
        _script(_ENDLESS, [(0, 2), (1, 1), (2, 2), (3, 1), (4, 0), (5, 2)], tag=""),
        # copies of a waiting message while its gap's timeout runs, then the gap fills in time
        _script(100, [(0, 2), (10, 2), (20, 2), (30, 0), (40, 1), (50, 2)]),
        # a late arrival after its gap was dead-lettered, and its copies
        _script(50, [(0, 1), (50, None), (60, 0), (61, 0), (70, 1), (80, 2), (81, 0)]),
        # the same with the give-up decided by an offer, and a copy of the waiting message first
        _script(50, [(0, 2), (30, 2), (50, 3), (55, 1), (56, 0), (57, 1), (58, 3), (59, 4)]),
        _script(
            30_000,
            [
                (_EPOCH, 1),
                (_EPOCH + 5, 1),
                (_EPOCH + 30_000, None),
                (_EPOCH + 30_001, 0),
                (_EPOCH + 30_002, 0),
                (_EPOCH + 30_003, 1),
            ],
            tag="order:",
        ),
    ),
    "gaps": (
        # the boundary is inclusive: 49 ms is not enough, 50 ms is
        _script(50, [(0, 1), (49, None), (50, None)]),
        # a gap filled exactly at the timeout: offer adds its message first, nothing dead-lettered
        _script(50, [(0, 1), (50, 0)]),
        _script(50, [(0, 1), (0, 3), (50, 2), (50, 0)]),
        # an offer exactly at the timeout of another message: give up on 0, deliver 1 and 2
        _script(50, [(0, 2), (50, 1)]),
        # several gaps, released one timeout at a time; 4 is not given up on before 5 waited
        _script(50, [(0, 1), (0, 3), (10, 5), (50, None), (59, None), (60, None)]),
        # all missing numbers before a message, in increasing order, in one call
        _script(40, [(0, 4), (40, None), (41, 5)]),
        # a duplicate does not restart the wait
        _script(50, [(0, 1), (30, 1), (50, None)]),
        _script(50, [(0, 2), (45, 2), (49, 1), (50, None), (95, None)]),
        # a late arrival after its gap was given up on is dropped, so are its copies
        _script(50, [(0, 1), (50, None), (51, 0), (52, 0), (53, 2)]),
        # seconds-long timeouts on a wall clock in milliseconds
        _script(30_000, [(_EPOCH, 1), (_EPOCH + 29_999, None), (_EPOCH + 30_000, None)]),
        _script(
            2_000,
            [
                (_EPOCH + 1_000, 2),
                (_EPOCH + 2_500, 1),
                (_EPOCH + 3_000, None),
                (_EPOCH + 4_499, None),
                (_EPOCH + 4_500, 4),
            ],
            tag="order:",
        ),
        _script(20, [(3_600_000, 3), (3_600_019, None), (3_600_020, None), (3_600_021, 5)]),
    ),
}

# Timing rules are not the duplicates cell's business (a buffer without a timeout keeps it).
_NOT_JUDGED = {
    "duplicates": {"blocked past the gap timeout", "lost a message", "gave up on a gap too early"}
}


def _smaller_buffer_cases(case: _BufferCase) -> Iterable[_BufferCase]:
    steps = case.steps
    for i in range(len(steps)):  # drop one tick or one arrival
        yield replace(case, steps=steps[:i] + steps[i + 1 :])
    top = max((s[2] for s in steps if s[0] == "offer"), default=-1)
    if any(seq > top for seq, _, _ in case.sends):  # forget sends after the last one received
        yield replace(case, sends=tuple(s for s in case.sends if s[0] <= top))
    for x in sorted({seq for seq, _, _ in case.sends}):
        # Take seq x out of the stream entirely and renumber the later ones: a shorter stream.
        def down(seq: int, x: int = x) -> int:
            return seq - 1 if seq > x else seq

        yield replace(
            case,
            sends=tuple((down(q), t, m) for q, t, m in case.sends if q != x),
            steps=tuple(
                (k, t, None if q is None else down(q), m)
                for k, t, q, m in steps
                if not (k == "offer" and q == x)
            ),
        )


@dataclass
class _BufferVerdict:
    category: str
    what: str
    at_step: int  # index into the case's steps (len(steps) = the final tick)
    seq: int | None = None


def _run_buffer_case(
    case: _BufferCase, ReorderBuffer: Any, mode: str = "gaps"
) -> tuple[_BufferVerdict | None, list[tuple[int, str, Any, int]]]:
    """Drive a fresh buffer through ``case``; check the spec after every call.

    Returns the first violation (or None) and a log ``(step, "deliver"|"dlq", seq, now)``.
    Categories in ``_NOT_JUDGED[mode]`` are not reported (the run goes on as if the buffer were
    right about them).
    """
    T = case.gap_timeout
    skip = _NOT_JUDGED.get(mode, set())
    log: list[tuple[int, str, Any, int]] = []
    try:
        buf = _learner(ReorderBuffer, T, what=f"ReorderBuffer({T})")
    except _Abort as exc:
        return _BufferVerdict(exc.category, exc.what, 0), log
    seq_of = {_payload(s, case.tag): s for s, _, _ in case.sends}
    first_arrival: dict[int, int] = {}
    delivered: list[int] = []
    dset: set[int] = set()
    dlq: list[int] = []
    qset: set[int] = set()
    last_now = max((s[1] for s in case.steps), default=0)
    calls = list(case.steps) + [("tick", last_now + T, None, None)]
    for k, (kind, now, seq, _mid) in enumerate(calls):
        try:
            if kind == "offer":
                first_arrival.setdefault(seq, now)
                msg = _payload(seq, case.tag)
                where = f"offer({seq}, {msg!r}, now={now})"
                out = _learner(buf.offer, seq, msg, now, what=where)
            else:
                where = f"tick(now={now})"
                out = _learner(buf.tick, now, what=where)
            raw_dlq = getattr(buf, "dlq", None)
        except _Abort as exc:
            return _BufferVerdict(exc.category, exc.what, k), log
        if type(out) is not list:
            return _BufferVerdict(
                "returned something else",
                f"{where} returned {out!r} ({type(out).__name__}); expected a list of the "
                "messages delivered by this call ([] if none)",
                k,
            ), log
        if type(raw_dlq) is not list or not all(type(x) is int for x in raw_dlq):
            return _BufferVerdict(
                "dead-letter queue is not a list of ints",
                f"after {where}, buffer.dlq is {raw_dlq!r}; expected a list of "
                "the sequence numbers given up on",
                k,
            ), log
        if raw_dlq[: len(dlq)] != dlq:
            return _BufferVerdict(
                "dead-letter queue was rewritten",
                f"after {where}, buffer.dlq is {raw_dlq!r}, but it was {dlq!r} "
                "before; entries are only ever appended",
                k,
            ), log
        new_dlq = list(raw_dlq[len(dlq) :])
        # Dead letters first: they are decided in the same call, before what they unblock.
        for x in new_dlq:
            if x in qset or x in dset:
                return _BufferVerdict(
                    "dead-lettered twice",
                    f"{where} put seq {x} in the DLQ, "
                    "but it was already delivered or dead-lettered",
                    k,
                    x,
                ), log
            if dlq and x < dlq[-1]:
                return _BufferVerdict(
                    "dead-letter queue out of order",
                    f"after {where}, buffer.dlq is {raw_dlq!r}: seq {x} was appended after "
                    f"{dlq[-1]}; missing numbers go to the DLQ in increasing order",
                    k,
                    x,
                ), log
            if x in first_arrival:
                return _BufferVerdict(
                    "dead-lettered a message that arrived",
                    f"{where} put seq {x} in the DLQ, but seq {x} arrived at "
                    f"t={first_arrival[x]}; only missing seqs are dead-lettered",
                    k,
                    x,
                ), log
            expired = [
                s
                for s, t in first_arrival.items()
                if s > x and s not in dset and s not in qset and now - t >= T
            ]
            if not expired and "gave up on a gap too early" not in skip:
                waits = [
                    f"seq {s} since t={t} ({now - t} ms)"
                    for s, t in sorted(first_arrival.items())
                    if s > x and s not in dset and s not in qset
                ]
                return _BufferVerdict(
                    "gave up on a gap too early",
                    f"{where} put seq {x} in the DLQ, but no message after it has "
                    f"waited gap_timeout={T} ms yet"
                    + (f" (waiting: {', '.join(waits)})" if waits else " (none is waiting)"),
                    k,
                    x,
                ), log
            qset.add(x)
            dlq.append(x)
            log.append((k, "dlq", x, now))
        for m in out:
            s = seq_of.get(m) if type(m) is str else None
            if s is None or s not in first_arrival:
                return _BufferVerdict(
                    "delivered something never offered",
                    f"{where} delivered {m!r}; expected the messages passed to offer() "
                    "(the msg argument itself)",
                    k,
                ), log
            if s in dset:
                return _BufferVerdict(
                    "delivered a duplicate", f"{where} delivered seq {s} a second time", k, s
                ), log
            if s in qset:
                return _BufferVerdict(
                    "delivered a dead-lettered message",
                    f"{where} delivered seq {s}, which was already in the DLQ "
                    "(a late arrival must be dropped)",
                    k,
                    s,
                ), log
            if delivered and s < delivered[-1]:
                return _BufferVerdict(
                    "delivered out of order",
                    f"{where} delivered seq {s} after seq {delivered[-1]}",
                    k,
                    s,
                ), log
            missing = [x for x in range(s) if x not in dset and x not in qset]
            if missing:
                return _BufferVerdict(
                    "delivered past a gap",
                    f"{where} delivered seq {s} while seq {missing[0]} was neither "
                    "delivered nor dead-lettered",
                    k,
                    s,
                ), log
            dset.add(s)
            delivered.append(s)
            log.append((k, "deliver", s, now))
        # After the call: nothing deliverable is held back, and nothing waits past the timeout.
        nxt = 0
        while nxt in dset or nxt in qset:
            nxt += 1
        if nxt in first_arrival:
            return _BufferVerdict(
                "held back a deliverable message",
                f"after {where}, seq {nxt} had arrived and everything before it "
                "was delivered or dead-lettered, yet it was not delivered",
                k,
                nxt,
            ), log
        for s, t in sorted(first_arrival.items()):
            if s not in dset and s not in qset and now - t >= T:
                cat = "blocked past the gap timeout" if k < len(case.steps) else "lost a message"
                if cat in skip:
                    break
                return _BufferVerdict(
                    cat,
                    f"after {where}, seq {s} has waited {now - t} ms since it first "
                    f"arrived at t={t} (gap_timeout={T} ms) and is still neither "
                    "delivered nor behind a dead-lettered gap",
                    k,
                    s,
                ), log
    return None, log


def _buffer_trace(
    case: _BufferCase, log: list, verdict: _BufferVerdict
) -> tuple[Trace, dict[int, str], list[str]]:
    """A timeline and a plain-words schedule of the (shrunk) stream and what the buffer did."""
    T = case.gap_timeout
    arrived = {s[3] for s in case.steps if s[0] == "offer"}
    last_now = max((s[1] for s in case.steps), default=0)
    calls = list(case.steps) + [("tick", last_now + T, None, None)]
    done: dict[int, list] = {}
    for k, what, seq, _now in log:
        done.setdefault(k, []).append((what, seq))
    for entries in done.values():  # within one call, tell it in sequence order
        entries.sort(key=lambda w: w[1])
    # (time, order, node, event, detail, words); order keeps a send before its drop, a call
    # before what it released.
    rows: list[tuple[int, int, str, str, dict, str]] = []
    for seq, t, mid in case.sends:
        rows.append(
            (
                t,
                0,
                "producer",
                SEND,
                {"msg": mid, "dst": "consumer", "payload": {"seq": seq}},
                f"t={t}: producer sends seq {seq}"
                + ("" if mid in arrived else " (it never arrives)"),
            )
        )
        if mid not in arrived:
            rows.append(
                (
                    t,
                    1,
                    "producer",
                    DROP,
                    {"msg": mid, "src": "producer", "dst": "consumer", "reason": "never arrives"},
                    "",
                )
            )
    for k, (kind, now, seq, mid) in enumerate(calls):
        final = k == len(calls) - 1
        if kind == "offer":
            rows.append(
                (
                    now,
                    2 + 3 * k,
                    "consumer",
                    RECV,
                    {"msg": mid, "src": "producer", "payload": {"seq": seq}, "_step": k},
                    f"t={now}: seq {seq} arrives: offer({seq}, ..., now={now})",
                )
            )
        elif done.get(k) or k == verdict.at_step or final:
            label = "final tick" if final else "tick"
            rows.append(
                (
                    now,
                    2 + 3 * k,
                    "consumer",
                    "tick",
                    {"text": f"{label}({now})", "_step": k},
                    f"t={now}: {label}(now={now})",
                )
            )
        for what, q in done.get(k, []):
            text = f"deliver #{q}" if what == "deliver" else f"DLQ #{q}"
            rows.append((now, 3 + 3 * k, "consumer", what, {"text": text}, f"        -> {text}"))
    rows.sort(key=lambda r: (r[0], r[1]))
    patience = f"{T} ms" if T < 10**9 else "unlimited"
    trace = Trace(
        nodes=["producer", "consumer"],
        seed=case.seed,
        meta={"faults": f"{case.faults}; gap_timeout {patience}"},
    )
    # A wall clock in milliseconds (1.7e12) makes an unreadable axis: draw from the first call.
    base = min((r[0] for r in rows), default=0) if rows and min(r[0] for r in rows) > 10**6 else 0
    if base:
        trace.meta["t0"] = f"times drawn from t0 = {base} ms"
    highlight: dict[int, str] = {}
    words = []
    for t, _o, node, ev, d, w in rows:
        step = d.pop("_step", None)
        if step == verdict.at_step:
            highlight[len(trace)] = verdict.category
        trace.record(float(t - base), node, ev, **d)
        if w:
            words.append(w)
    words.append(f"  => {verdict.what}")
    return trace, highlight, words


def _buffer_check(
    ReorderBuffer: Any,
    mode: str,
    what: str,
    seed: int,
    cases: int,
    case: int | None,
    check: str,
) -> None:
    started = time.perf_counter()

    def run_case(c: _BufferCase) -> str | None:
        v, _ = _run_buffer_case(c, ReorderBuffer, mode)
        return None if v is None else v.category

    scripted = _BUFFER_SCRIPTS[mode]
    found = _hunt(
        seed=seed,
        cases=cases,
        case=case,
        scripted=scripted,
        make_case=lambda rng: _make_buffer_case(rng, mode),
        run_case=run_case,
    )
    if found is None:
        passed(what, 1 if case is not None else len(scripted) + cases, started)
        return
    c, category, k = found
    c, _msg = shrink(c, _same_category(run_case, category), _smaller_buffer_cases, budget=600)
    verdict, log = _run_buffer_case(c, ReorderBuffer, mode)
    assert verdict is not None  # the shrunk case fails by construction
    trace, highlight, words = _buffer_trace(c, log, verdict)
    fail(
        verdict.category,
        verdict.what,
        seed=seed,
        schedule=words,
        trace=trace,
        highlight=highlight,
        replay=_replay(check, "ReorderBuffer", seed, k),
    )


def check_reorder_buffer_in_order(
    ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500, case: int | None = None
) -> None:
    """Reordered streams (no loss): every message delivered once, in seq order, as soon as it
    can be, nothing lost (rules B1-B4)."""
    _buffer_check(
        ReorderBuffer,
        "in_order",
        "reorder buffer delivers in order",
        seed,
        cases,
        case,
        "check_reorder_buffer_in_order",
    )


def check_reorder_buffer_drops_duplicates(
    ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500, case: int | None = None
) -> None:
    """Streams with duplicate copies, late arrivals and pending gap timeouts: each seq delivered
    at most once, nothing dead-lettered ever delivered (rule B5, with B1-B3)."""
    _buffer_check(
        ReorderBuffer,
        "duplicates",
        "reorder buffer drops duplicates",
        seed,
        cases,
        case,
        "check_reorder_buffer_drops_duplicates",
    )


def check_reorder_buffer_gap_timeout(
    ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500, case: int | None = None
) -> None:
    """Lossy, duplicated streams: a gap open for gap_timeout goes to the DLQ in increasing order,
    never earlier, a just-in-time arrival fills it, nothing is lost (rules B6-B10)."""
    _buffer_check(
        ReorderBuffer,
        "gaps",
        "reorder buffer dead-letters gaps on time",
        seed,
        cases,
        case,
        "check_reorder_buffer_gap_timeout",
    )


def check_reorder_buffer(ReorderBuffer: Any, *, seed: int = 0, cases: int = 1000) -> None:
    """All three reorder buffer checks."""
    check_reorder_buffer_in_order(ReorderBuffer, seed=seed, cases=cases)
    check_reorder_buffer_drops_duplicates(ReorderBuffer, seed=seed, cases=cases)
    check_reorder_buffer_gap_timeout(ReorderBuffer, seed=seed, cases=cases)


# =============================================================================================
# Partition function graders
# =============================================================================================
#
# Rules checked:
#   P1  (partition_in_range_and_spread) every answer is an int (not a bool) with 0 <= p < n, for
#       n from 1 to 2**31 - 1;
#   P2  (partition_in_range_and_spread) keys spread evenly: for n <= 32 every partition holds
#       within 40 % of its share; for n from 100 to 1024 the counts pass a chi-square test
#       (statistic / (n - 1) below 1.5); for n = 10**6 and 2**31 - 1 keys hardly collide; and each
#       shape of key on its own (sequential ids, long common prefixes, common suffixes, numbers,
#       uuids, unicode, long and very short keys) spreads too;
#   P3  (partition_same_key_same_partition) asking again, in another order, interleaved with
#       other n and other keys, gives the same answer;
#   P4  (partition_stable_across_processes) fresh interpreters with other PYTHONHASHSEED values
#       give the same answers as the learner's process (:func:`_stability_probe`, run beside the
#       learner's code).

_UNICODE = ("Zoë", "Łukasz", "東京", "Ελένη", "😀", "Ñandú", "Šárka", "Дмитрий")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LETTERS + _LETTERS.upper() + "0123456789"


def _key_groups(seed: int, per_group: int) -> dict[str, list[str]]:
    """Seeded keys of the shapes real systems use, ``per_group`` distinct keys of each shape."""
    rng = random.Random(seed)
    start = rng.randrange(10**6)
    prefix = f"tenant-{rng.randrange(10**4):04d}/region-eu-west-1/orders/2026/11/"
    shapes: dict[str, Callable[[int], str]] = {
        "sequential ids": lambda i: f"user-{start + i}",
        "order numbers": lambda i: f"order:{rng.randrange(10**9):09d}",
        "emails (common suffix)": lambda i: (
            "".join(rng.choice(_LETTERS) for _ in range(rng.randint(1, 12))) + "@example.com"
        ),
        "uuids": lambda i: "-".join(
            "".join(rng.choice("0123456789abcdef") for _ in range(w)) for w in (8, 4, 4, 4, 12)
        ),
        "long common prefix": lambda i: prefix + f"{rng.randrange(10**7):07d}",
        "numbers as text": lambda i: str(rng.randrange(10**12)),
        "unicode names": lambda i: rng.choice(_UNICODE) + str(rng.randrange(10**5)),
        "long keys": lambda i: "".join(rng.choice(_ALNUM) for _ in range(rng.randint(100, 300))),
        "short keys": lambda i: "".join(rng.choice(_ALNUM) for _ in range(rng.randint(1, 3))),
    }
    groups: dict[str, list[str]] = {}
    for name, make in shapes.items():
        ks: dict[str, None] = {}
        i = 0
        while len(ks) < per_group:
            ks.setdefault(make(i))
            i += 1
        groups[name] = list(ks)
    groups["edge cases"] = ["", "a", " ", "\n", "key with spaces", "KEY", "key", "0", "-1"]
    return groups


def _keys(seed: int, n: int) -> list[str]:
    """``n`` distinct seeded keys mixing every shape (always including the empty string)."""
    groups = _key_groups(seed, n // 9 + 1)
    mixed = list(dict.fromkeys(k for ks in groups.values() for k in ks))
    rng = random.Random(seed + 1)
    edge = groups["edge cases"]
    rest = [k for k in mixed if k not in edge]
    rng.shuffle(rest)
    return (edge + rest)[: max(n, len(edge))]


def _partition_call(fn: Callable[[str, int], Any], key: str, n: int) -> int:
    got = call(fn, key, n, what=f"partition_for({key!r}, {n})")
    if type(got) is not int:
        fail(
            "partition is not an int",
            f"partition_for({key!r}, {n}) returned {got!r} ({type(got).__name__}); expected an int "
            f"in range(0, {n})",
        )
    return got


def _partition_answers(fn: Callable[[str, int], Any], asks: Sequence[tuple[str, int]]) -> list[int]:
    """``fn(key, n)`` for every ask, each checked to be an int.

    The calls go in one batch (:func:`gotchalab.check.map_calls`: one round trip when the
    function lives in the learner's process); if one raises, the asks are replayed one by one
    through :func:`_partition_call`, so the verdict names the key and n that raised.
    """
    try:
        got = map_calls(fn, asks)
    except Exception:
        for k, n in asks:
            _partition_call(fn, k, n)
        raise
    if type(got) is not list or len(got) != len(asks):
        fail("partition probe failed", f"asked {len(asks)} partitions, got back {got!r:.200}")
    for (k, n), p in zip(asks, got, strict=True):
        if type(p) is not int:
            _partition_call(fn, k, n)  # fails with the key, n and value
    return got


_SAME_KEY_SIZES = (1, 2, 3, 7, 16, 100, 1000, 4096, 2**31 - 1)


def check_partition_same_key(
    partition_for: Callable[[str, int], Any], *, seed: int = 0, keys: int = 800
) -> None:
    """The same key always gets the same partition: asked again, in another order, interleaved
    with other keys and other n (rule P3)."""
    started = time.perf_counter()
    ks = _keys(seed, keys)
    rng = random.Random(seed)
    asks = [(k, n) for n in _SAME_KEY_SIZES for k in ks]
    first = dict(zip(asks, _partition_answers(partition_for, asks), strict=True))
    rng.shuffle(asks)
    checked = 0
    for (k, n), got in zip(asks, _partition_answers(partition_for, asks), strict=True):
        checked += 1
        if got != first[(k, n)]:
            fail(
                "same key, different partition",
                f"partition_for({k!r}, {n}) returned {first[(k, n)]} the first time and {got} "
                "when asked again; a key's partition must depend only on the key and n",
                seed=seed,
                expected=first[(k, n)],
                got=got,
                replay=f"check_partition_same_key(partition_for, seed={seed})",
            )
    passed("same key -> same partition", checked, started)


_SMALL_SIZES = (1, 2, 3, 7, 8, 16, 32)
_LARGE_SIZES = (100, 1000, 1024)
_HUGE_SIZES = (10**6, 2**31 - 1)


def _chi2_ratio(counts: Sequence[int]) -> float:
    n = len(counts)
    e = sum(counts) / n
    return sum((c - e) ** 2 for c in counts) / e / (n - 1)


def check_partition_in_range_and_spread(
    partition_for: Callable[[str, int], Any], *, seed: int = 0, keys: int = 1000
) -> None:
    """Every answer is an int in range(n) for n from 1 to 2**31 - 1, and keys spread evenly,
    overall and within each shape of key (rules P1, P2). ``keys`` is the number of each shape."""
    started = time.perf_counter()
    groups = _key_groups(seed, keys)
    all_keys = list(dict.fromkeys(k for ks in groups.values() for k in ks))
    replay = f"check_partition_in_range_and_spread(partition_for, seed={seed})"
    answers: dict[int, dict[str, int]] = {}
    checked = 0
    for n in _SMALL_SIZES + _LARGE_SIZES + _HUGE_SIZES:
        got: dict[str, int] = {}
        for k, p in zip(
            all_keys, _partition_answers(partition_for, [(k, n) for k in all_keys]), strict=True
        ):
            if not 0 <= p < n:
                fail(
                    "partition out of range",
                    f"partition_for({k!r}, {n}) returned {p}; expected 0 <= p < {n}",
                    seed=seed,
                    expected=f"an int in range(0, {n})",
                    got=p,
                    replay=replay,
                )
            got[k] = p
        checked += len(all_keys)
        answers[n] = got

    def uneven(what: str, n: int, ks: list[str]) -> None:
        counts = [0] * n
        for k in ks:
            counts[answers[n][k]] += 1
        share = len(ks) / n
        if n <= 32:
            if what == "all keys":
                bad = max(counts) > 1.4 * share or min(counts) < 0.6 * share
                rule = "every partition within 40 % of its share"
            else:  # a few hundred keys of one shape: a chi-square test, safe for a good hash
                bad = n > 1 and _chi2_ratio(counts) * (n - 1) > 40
                rule = "counts a uniform hash gives (chi-square below 40)"
            shown = str(counts)
        else:
            bad = _chi2_ratio(counts) > (1.5 if what == "all keys" else 2.0)
            rule = "counts a uniform hash gives (chi-square / (n - 1) below 1.5)"
            used = sum(1 for c in counts if c)
            shown = (
                f"{used} of {n} partitions used, the fullest holding {max(counts)} "
                f"(chi-square / (n - 1) = {_chi2_ratio(counts):.1f})"
            )
        if bad:
            fail(
                "keys do not spread evenly",
                f"with n={n}, {len(ks)} {what} (e.g. {ks[1]!r}, {ks[2]!r}) gave partition sizes "
                f"{shown}; expected about {share:.1f} each ({rule}). A hot partition caps "
                "throughput: hash all of the key's bytes with a well-mixed function",
                seed=seed,
                replay=replay,
            )

    for n in _SMALL_SIZES + _LARGE_SIZES:
        uneven("all keys", n, all_keys)
    for name, ks in groups.items():
        if name != "edge cases":
            for n in (8, 100):
                uneven(f"keys of one shape ({name})", n, ks)
    for n in _HUGE_SIZES:
        k = len(all_keys)
        expect = n * (1 - (1 - 1 / n) ** k)
        collisions = k - expect
        distinct = len(set(answers[n].values()))
        if distinct < expect - max(20.0, 8 * collisions**0.5):
            fail(
                "keys do not spread evenly",
                f"with n={n}, {k} keys landed on only {distinct} distinct partitions; a uniform "
                f"hash gives about {expect:.0f}. The hash has too few values for this many "
                "partitions (a 16-bit hash, or a sum of character codes)",
                seed=seed,
                replay=replay,
            )
    passed("partition in range and evenly spread", checked, started)


_CHILD = r"""
import builtins, importlib, io, json, marshal, random, sys, types
spec = json.loads(sys.stdin.read())
real = sys.stdout
sys.stdout = io.StringIO()  # the learner's cell may print; keep our channel clean
try:
    if spec["source"] is not None:  # re-run the learner's whole cell: imports and helpers come along
        ns = {"__name__": "__learner__"}
        exec(compile(spec["source"], "<your partition_for cell>", "exec"), ns)
        fn = ns[spec["name"]]
    else:  # rebuild the function from its marshalled code, imports and constants
        port = spec["portable"]
        g = {"__builtins__": builtins, "__name__": "__learner__"}
        for name, (mod, attr) in port["imports"].items():
            m = importlib.import_module(mod)
            g[name] = m if attr is None else getattr(m, attr)
        for name, blob in port["consts"].items():
            g[name] = marshal.loads(bytes.fromhex(blob))
        for name, (code, defaults) in port["funcs"].items():
            d = marshal.loads(bytes.fromhex(defaults))
            g[name] = types.FunctionType(marshal.loads(bytes.fromhex(code)), g, name, d)
        fn = g[spec["name"]]
    keys = list(spec["keys"])
    random.Random(spec["shuffle"]).shuffle(keys)  # ask in another order than the kernel did
    answers = {str(n): {k: fn(k, n) for k in keys} for n in spec["sizes"]}
    answers = {n: {k: (v if type(v) is int else repr(v)) for k, v in d.items()}
               for n, d in answers.items()}
    out = {"ok": True, "answers": answers}
except Exception as exc:
    out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
real.write(json.dumps(out))
"""


def _source_of(fn: Callable[..., Any]) -> str | None:
    """The whole cell (or file) that defined ``fn``, if Python kept it (IPython does, per cell)."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    lines = linecache.getlines(filename) if filename else []
    return "".join(lines) or None


_IMMUTABLE = (int, float, str, bytes, bool, type(None))


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _portable(fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn`` and what it uses, as data a fresh interpreter can rebuild without its source.

    Used when the source is not kept (code run with ``exec``, as in a re-grade): code objects go
    by ``marshal`` (same interpreter, so same bytecode format), modules and their functions by
    name, immutable constants by value. Mutable globals are refused rather than copied, because a
    copy would carry answers this process already computed (a cache filled with salted hashes).
    """
    funcs: dict[str, tuple[str, str]] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    consts: dict[str, str] = {}

    def visit(f: types.FunctionType) -> None:
        if f.__name__ in funcs:
            return
        if f.__closure__:
            raise ValueError(f"{f.__name__} is a closure; define it at the top level of the cell")
        funcs[f.__name__] = (marshal.dumps(f.__code__).hex(), marshal.dumps(f.__defaults__).hex())
        for name in sorted(_global_names(f.__code__)):
            if name not in f.__globals__:
                continue  # a builtin or an attribute name
            v = f.__globals__[name]
            if isinstance(v, types.ModuleType):
                imports[name] = (v.__name__, None)
            elif isinstance(v, types.FunctionType):
                visit(v)
            elif (
                callable(v)
                and getattr(v, "__module__", None)
                and getattr(sys.modules.get(v.__module__), getattr(v, "__name__", ""), None) is v
            ):
                imports[name] = (v.__module__, v.__name__)
            elif isinstance(v, _IMMUTABLE) or (
                isinstance(v, (tuple, frozenset)) and all(isinstance(x, _IMMUTABLE) for x in v)
            ):
                consts[name] = marshal.dumps(v).hex()
            else:
                raise ValueError(
                    f"{f.__name__} uses the global {name!r}, a {type(v).__name__}; keep state "
                    "out of partition_for (a partition must depend only on the key and n)"
                )

    if not isinstance(fn, types.FunctionType):
        raise ValueError(f"partition_for must be a plain function, got {type(fn).__name__}")
    visit(fn)
    return {"funcs": funcs, "imports": imports, "consts": consts}


def _stability_probe(
    partition_for: Callable[[str, int], Any],
    *,
    source: str | None,
    keys: list[str],
    sizes: list[int],
    hash_seeds: list[int],
    shuffle: int,
) -> dict[str, Any]:
    """Rule P4, run beside the learner's code: ask fresh interpreters about ``keys``.

    Runs where the learner's function lives (in the authoritative grade, the learner's process),
    because it needs the function's code or its cell's source. Each child gets its own
    ``PYTHONHASHSEED``. Returns plain data: ``{"error": [category, text] | None, "answers":
    [[hash_seed, {str(n): {key: partition}}], ...]}``.
    """
    src = source if source is not None else _source_of(partition_for)
    portable = None
    if src is None:
        try:
            portable = _portable(partition_for)
        except ValueError as exc:
            return {"error": ["your function cannot run on its own", str(exc)], "answers": []}
    procs = []
    for i, hs in enumerate(hash_seeds):
        env = dict(os.environ, PYTHONHASHSEED=str(hs))
        spec = json.dumps(
            {
                "source": src,
                "portable": portable,
                "name": getattr(partition_for, "__name__", "partition_for"),
                "keys": keys,
                "sizes": sizes,
                "shuffle": shuffle + i,
            }
        )
        p = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        procs.append((hs, p, spec))
    answers = []
    error = None
    for hs, p, spec in procs:
        try:
            out, err = p.communicate(spec, timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            error = error or [
                "your cell does not run on its own",
                f"running your partition_for cell in a fresh Python (PYTHONHASHSEED={hs}) did "
                "not finish in 60 s",
            ]
            continue
        try:
            res = json.loads(out)
        except ValueError:
            error = error or [
                "your cell does not run on its own",
                f"a fresh Python running your partition_for cell (PYTHONHASHSEED={hs}) stopped "
                f"(exit {p.returncode}) without answering: {err[-300:].strip()}",
            ]
            continue
        if not res.get("ok"):
            error = error or [
                "your cell does not run on its own",
                f"running your partition_for cell in a fresh Python (PYTHONHASHSEED={hs}) raised "
                f"{res.get('error')}; keep the cell self-contained: import what it uses inside it",
            ]
            continue
        answers.append([hs, res["answers"]])
    return {"error": error, "answers": answers}


def check_partition_stable_across_processes(
    partition_for: Callable[[str, int], Any],
    *,
    seed: int = 0,
    keys: int = 600,
    source: str | None = None,
    hash_seeds: tuple[int, int] = (1, 2),
) -> None:
    """Fresh interpreters with different PYTHONHASHSEED values give the same partitions as here.

    The learner's cell source runs in two child processes (``sys.executable``), each with its own
    hash seed, asked about the keys in a shuffled order; every answer must equal the one the
    learner's function gives in its own process. Where the source was not kept (``exec``-ed code),
    the function's code is sent instead. The children are started by :func:`_stability_probe`
    through :func:`gotchalab.check.beside`, so they start beside the learner's code.
    """
    started = time.perf_counter()
    ks = _keys(seed + 7919, keys)
    sizes = [3, 16, 97, 1000, 2**31 - 1]
    replay = f"check_partition_stable_across_processes(partition_for, seed={seed})"
    # The probe first: it reads the function's code and globals before any call here can fill
    # a cache the function keeps.
    res = beside(
        _stability_probe,
        partition_for,
        source=source,
        keys=ks,
        sizes=sizes,
        hash_seeds=list(hash_seeds),
        shuffle=seed * 31,
    )
    here = {
        str(n): dict(zip(ks, _partition_answers(partition_for, [(k, n) for k in ks]), strict=True))
        for n in sizes
    }
    if not (type(res) is dict and type(res.get("answers")) is list):
        fail("partition probe failed", f"the stability probe returned {res!r}", seed=seed)
    if res.get("error"):
        category, text = res["error"]
        fail(category, text, seed=seed, replay=replay)
    checked = 0
    for hs, answers in res["answers"]:
        for n in here:
            for k in ks:
                checked += 1
                theirs = answers.get(n, {}).get(k) if type(answers) is dict else None
                if theirs != here[n][k] or type(theirs) is not int:
                    fail(
                        "partition depends on the process's hash seed",
                        f"partition_for({k!r}, {n}) is {here[n][k]} in your process but "
                        f"{theirs} in a fresh Python with PYTHONHASHSEED={hs}. Python's "
                        "built-in hash() of a str is salted per process, so producers on two "
                        "machines would send the same key to different partitions; hash the "
                        "key's bytes with a fixed function (zlib.crc32, hashlib)",
                        seed=seed,
                        expected=here[n][k],
                        got=theirs,
                        replay=replay,
                    )
    passed(f"partition stable across {len(res['answers'])} fresh interpreters", checked, started)


def check_partition_function(partition_for: Callable[[str, int], Any], *, seed: int = 0) -> None:
    """All three partition checks."""
    check_partition_same_key(partition_for, seed=seed)
    check_partition_in_range_and_spread(partition_for, seed=seed)
    check_partition_stable_across_processes(partition_for, seed=seed)
