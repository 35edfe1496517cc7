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
  learner's timestamp, and the timestamps are compared with :meth:`Trace.happens_before`, the
  causality computed from the trace itself;
* reorder buffer: seeded streams over a faulty network drive ``offer``/``tick``; an oracle checks
  the properties of the specification after every call (in order, no duplicates, no skipped gap
  without a dead letter, no early give-up, no message waiting past ``gap_timeout``, nothing lost),
  rather than comparing with a second buffer;
* partition function: same key same partition, range, spread, and the same answers in fresh
  interpreters started with different ``PYTHONHASHSEED`` values.

On failure a grader shrinks the case (:func:`gotchalab.check.shrink`) and raises
:class:`gotchalab.check.CheckFailure` with a plain-language category, the seed, the shortest failing
schedule and a timeline whose event details carry the learner's timestamps.

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

from .check import call, fail, passed, shrink, sweep
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
# Clock graders: the learner's clock drives every node of a faulty network
# =============================================================================================


@dataclass(frozen=True)
class _ClockCase:
    """A scripted run: ``actions`` are ``(time, node, kind, dst)`` with kind "tick" or "send"."""

    seed: int
    nodes: tuple[str, ...]
    actions: tuple[tuple[float, str, str, str | None], ...]
    faults: Faults


def _make_clock_case(
    rng: random.Random, *, max_nodes: int = 4, max_actions: int = 14
) -> _ClockCase:
    n = rng.randint(2, max_nodes)
    nodes = tuple("ABCD"[:n])
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


def _smaller_clock_cases(case: _ClockCase) -> Iterable[_ClockCase]:
    # Simplest first: no faults at all, then one fault fewer, then one action fewer.
    plain = replace(case, faults=Faults(delay=case.faults.delay))
    if plain != case:
        yield plain
    for name in ("drop", "duplicate", "reorder"):
        if getattr(case.faults, name):
            yield replace(case, faults=replace(case.faults, **{name: 0.0}))
    if case.faults.delay != (1.0, 1.0):
        yield replace(case, faults=replace(case.faults, delay=(1.0, 1.0)))
    for i in range(len(case.actions)):
        if len(case.actions) > 1:
            yield replace(case, actions=case.actions[:i] + case.actions[i + 1 :])


class _Stamped:
    """The run of one clock case: the trace and the learner's timestamp of each stamped event."""

    def __init__(self, trace: Trace, stamps: dict[int, Any]) -> None:
        self.trace = trace
        self.stamps = stamps


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
        got = call(
            self.clock.receive,
            _copy_plain(msg.payload["ts"]),
            what=f"{type(self.clock).__name__}.receive({msg.payload['ts']!r}) on node {ctx.node}",
        )
        self.stamps[idx] = self.canon(got, f"receive() on node {ctx.node}")


def _copy_plain(v: Any) -> Any:
    return dict(v) if isinstance(v, dict) else v


def _run_clock_case(
    case: _ClockCase, make_clock: Callable[[str, tuple[str, ...]], Any], kind: str
) -> _Stamped:
    """Run ``case`` with a fresh learner clock per node; stamp every tick, send and receive."""
    stamps: dict[int, Any] = {}
    net = Network(seed=case.seed, nodes={}, faults=case.faults)
    trace = net.trace

    def canon(v: Any, where: str) -> Any:
        return _canon_stamp(v, kind, case, where, trace)

    for n in case.nodes:
        net.add_node(n, lambda n=n: _ClockNode(make_clock(n, case.nodes), trace, stamps, canon))

    def act(ctx: Context, action: tuple) -> None:
        _, node, what, dst = action
        clock = net.process(node).clock
        if what == "tick":
            got = call(clock.tick, what=f"{type(clock).__name__}.tick() on node {node}")
            v = canon(got, f"tick() on node {node}")
            ctx.log("tick", clock=v)
            stamps[len(trace) - 1] = v
        else:
            got = call(clock.send, what=f"{type(clock).__name__}.send() on node {node}")
            v = canon(got, f"send() on node {node}")
            idx = len(trace)  # the SEND is the next event recorded
            ctx.send(dst, {"ts": v})
            stamps[idx] = v

    for a in case.actions:
        net.at(a[0], a[1], lambda ctx, a=a: act(ctx, a))
    return _Stamped(net.run(), stamps)


def _canon_stamp(v: Any, kind: str, case: _ClockCase, where: str, trace: Trace) -> Any:
    """A plain copy of a learner timestamp, or a failure that says what type was expected."""
    nodes = case.nodes
    if kind == "lamport":
        if type(v) is int:
            return v
        expected = "an int (the Lamport time of this event)"
    else:
        if isinstance(v, dict) and set(v) == set(nodes) and all(type(c) is int for c in v.values()):
            return {k: v[k] for k in nodes}
        expected = f"a dict with an int count for every node {list(nodes)}"
    fail(
        "timestamp has the wrong type",
        f"{where} returned {v!r} ({type(v).__name__}); expected {expected}",
        seed=case.seed,
        schedule=trace.describe().splitlines()[-6:],
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
            s += f"   [your clock: {json.dumps(run.stamps[i])}]"
        lines.append(s)
    return lines


def _bits(x: int) -> Iterable[int]:
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


_AMBIGUOUS = "receive did not move past the sender's clock"


def _lamport_violation(run: _Stamped, aspect: str) -> tuple[str, str, dict[int, str]] | None:
    """The first broken Lamport property of ``aspect`` in ``run``: (category, what, highlight)."""
    tr, st = run.trace, run.stamps
    if aspect == "monotonic":
        last: dict[str, int] = {}
        for i, e in enumerate(tr):
            if i not in st:
                continue
            j = last.get(e.node)
            if j is not None and not st[i] > st[j]:
                kind = "receive" if e.event == RECV else ("send" if e.event == SEND else "tick")
                if st[i] < st[j]:
                    cat = f"clock went backwards on {kind}"
                else:
                    cat = f"clock did not advance on {kind}"
                return (
                    cat,
                    f"on node {e.node} event #{i + 1} ({kind}) got clock {st[i]} but the node's "
                    f"previous event #{j + 1} had {st[j]}; every event on a node must get a "
                    "strictly larger Lamport time",
                    {j: f"previous: {st[j]}", i: f"then: {st[i]}"},
                )
            last[e.node] = i
        return None
    if aspect == "receive":
        send_of = {e.detail["msg"]: k for k, e in enumerate(tr) if e.event == SEND}
        prev: dict[str, int] = {}  # the node's clock before this event (0 before its first)
        fallback = None
        for r, e in enumerate(tr):
            if r not in st:
                continue
            p = prev.get(e.node, 0)
            prev[e.node] = st[r]
            s = send_of.get(e.detail["msg"]) if e.event == RECV else None
            if s is None or s not in st or st[r] > st[s]:
                continue
            ts, got = st[s], st[r]
            what = (
                f"event #{r + 1}: {e.node}'s clock was {p}, it received a message stamped {ts} "
                f"and its clock became {got}; it must become max({p}, {ts}) + 1 = {max(p, ts) + 1}"
            )
            hl = {s: f"sent with {ts}", r: f"receive -> {got}"}
            # Name the mistake only when the numbers tell the two classic ones apart.
            if got == p + 1 and got != max(p, ts):
                return "receive ignored the sender's clock", what, hl
            if got == max(p, ts) and got != p + 1:
                return "receive did not add one", what, hl
            fallback = fallback or (_AMBIGUOUS, what, hl)
        return fallback
    hb = tr.happens_before()
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


def _clock_check(
    cls: Any,
    *,
    kind: str,
    judge: Callable[[_Stamped], tuple[str, str, dict[int, str]] | None],
    what: str,
    seed: int,
    cases: int,
    make_case: Callable[[random.Random], _ClockCase] = _make_clock_case,
) -> None:
    started = time.perf_counter()
    if kind == "lamport":

        def make_clock(node: str, nodes: tuple[str, ...]) -> Any:
            return call(cls, what=f"{getattr(cls, '__name__', cls)}()")
    else:

        def make_clock(node: str, nodes: tuple[str, ...]) -> Any:
            return call(
                cls,
                node,
                list(nodes),
                what=f"{getattr(cls, '__name__', cls)}({node!r}, {list(nodes)})",
            )

    def run_case(case: _ClockCase) -> str | None:
        v = judge(_run_clock_case(case, make_clock, kind))
        return None if v is None else v[0]

    found = sweep(cases, seed, make_case, run_case)
    if found is None:
        passed(what, cases, started)
        return
    case, category, case_seed = found
    if category == _AMBIGUOUS:
        # The numbers of this run fit two mistakes; look a little further for a run that names one.
        first = case_seed - seed * 1_000_003
        for k in range(first + 1, min(cases, first + 300)):
            cand = make_case(random.Random(seed * 1_000_003 + k))
            got = run_case(cand)
            if got and got != _AMBIGUOUS:
                case, category, case_seed = cand, got, seed * 1_000_003 + k
                break
    case, _msg = shrink(case, _same_category(run_case, category), _smaller_clock_cases, budget=400)
    run = _run_clock_case(case, make_clock, kind)
    category, detail, highlight = judge(run)
    trace, highlight = _stamped_trace(run, highlight)
    fail(
        category,
        detail,
        seed=case_seed,
        schedule=_describe_stamped(run),
        trace=trace,
        highlight=highlight,
        replay=f"faults: {case.faults.summary()}; network seed {case.seed}",
    )


def check_lamport_monotonic(LamportClock: Any, *, seed: int = 0, cases: int = 1500) -> None:
    """Every event on a node (tick, send, receive) gets a strictly larger Lamport time."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "monotonic"),
        what="Lamport clock advances on every event of a node",
        seed=seed,
        cases=cases,
    )


def check_lamport_receive_takes_max(LamportClock: Any, *, seed: int = 0, cases: int = 1500) -> None:
    """Every receive gets a Lamport time larger than the timestamp the message carries."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "receive"),
        what="Lamport receive jumps past the sender's timestamp",
        seed=seed,
        cases=cases,
    )


def check_lamport_respects_causality(
    LamportClock: Any, *, seed: int = 0, cases: int = 1200
) -> None:
    """For every pair of events: a happens-before b (from the trace) implies L(a) < L(b)."""
    _clock_check(
        LamportClock,
        kind="lamport",
        judge=lambda r: _lamport_violation(r, "causality"),
        what="Lamport clock respects happens-before on every pair of events",
        seed=seed,
        cases=cases,
    )


def check_lamport_clock(LamportClock: Any, *, seed: int = 0, cases: int = 1000) -> None:
    """All three Lamport checks."""
    check_lamport_monotonic(LamportClock, seed=seed, cases=cases)
    check_lamport_receive_takes_max(LamportClock, seed=seed, cases=cases)
    check_lamport_respects_causality(LamportClock, seed=seed, cases=cases)


_RELATIONS = ("before", "after", "concurrent", "equal")


def _vector_judge(
    compare: Callable[[Any, Any], Any], want: str
) -> Callable[[_Stamped], tuple[str, str, dict[int, str]] | None]:
    """Compare the learner's verdict with the trace's causality on every pair of stamped events.

    ``want="causal"`` checks pairs the trace orders (and each event against itself, "equal");
    ``want="concurrent"`` checks pairs the trace leaves concurrent.
    """

    def judge(run: _Stamped) -> tuple[str, str, dict[int, str]] | None:
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
        current: list[tuple[int, int]] = []

        def ask_all() -> tuple[int, int, str, Any] | None:
            # One call() around the loop, not one per pair: the wrapper costs as much as compare.
            for x, y, truth in pairs:
                current[:] = [(x, y)]
                got = compare(dict(st[x]), dict(st[y]))
                if not (type(got) is str and got == truth):
                    return x, y, truth, got
            return None

        try:
            bad = ask_all()
        except Exception:
            x, y = current[0]
            bad = call(compare, dict(st[x]), dict(st[y]), what=f"compare({st[x]}, {st[y]})")
            bad = None if bad is None else (x, y, "?", bad)  # only reached if it raised once
        if bad is None:
            return None
        x, y, truth, got = bad
        if not (type(got) is str and got in _RELATIONS):
            cat = "compare returned something else"
        elif truth == "concurrent":
            cat = "called concurrent events ordered"
        elif got == "concurrent":
            cat = "called causally ordered events concurrent"
        else:
            cat = "ordered events the wrong way"
        ex, ey = tr[x].describe(), tr[y].describe()
        return (
            cat,
            f"compare({st[x]}, {st[y]}) returned {got!r}, but in the trace event "
            f"#{x + 1} ({ex}) is {truth!r} event #{y + 1} ({ey}); expected {truth!r}",
            {x: f"a = {st[x]}", y: f"b = {st[y]}"} if x != y else {x: f"a = b = {st[x]}"},
        )

    return judge


def check_vector_clock_orders_causal(
    VectorClock: Any, compare: Callable[[Any, Any], Any], *, seed: int = 0, cases: int = 700
) -> None:
    """compare() says "before"/"after" for every causally ordered pair, "equal" for an event itself."""
    _clock_check(
        VectorClock,
        kind="vector",
        judge=_vector_judge(compare, "causal"),
        what="vector clock orders every causally related pair",
        seed=seed,
        cases=cases,
    )


def check_vector_clock_detects_concurrency(
    VectorClock: Any, compare: Callable[[Any, Any], Any], *, seed: int = 0, cases: int = 700
) -> None:
    """compare() says "concurrent" for every pair of events that the trace leaves unordered."""
    _clock_check(
        VectorClock,
        kind="vector",
        judge=_vector_judge(compare, "concurrent"),
        what="vector clock calls every concurrent pair concurrent",
        seed=seed,
        cases=cases,
    )


def check_vector_clock(
    VectorClock: Any, compare: Callable[[Any, Any], Any], *, seed: int = 0, cases: int = 500
) -> None:
    """Both vector clock checks."""
    check_vector_clock_orders_causal(VectorClock, compare, seed=seed, cases=cases)
    check_vector_clock_detects_concurrency(VectorClock, compare, seed=seed, cases=cases)


# =============================================================================================
# Reorder buffer grader: a spec-level oracle over seeded faulty streams
# =============================================================================================


@dataclass(frozen=True)
class _BufferCase:
    """A stream: ``sends`` are (seq, sent_at, msg id); ``steps`` are the calls made on the buffer.

    A step is ``("offer", now, seq, msg id)`` or ``("tick", now, None, None)``; times are int
    milliseconds, non-decreasing. A final ``tick(last + gap_timeout)`` is always added by the runner.
    """

    seed: int
    gap_timeout: int
    sends: tuple[tuple[int, int, str], ...]
    steps: tuple[tuple[str, int, int | None, str | None], ...]
    faults: str


def _payload(seq: int) -> str:
    return f"event-{seq}"


def _make_buffer_case(rng: random.Random, mode: str) -> _BufferCase:
    """A seeded stream over :class:`Network`: ``mode`` picks which faults the stream has."""
    n = rng.randint(3, 12)
    if mode == "in_order":
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0, 60.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=50.0,
        )
        timeout = 10**9  # patience without end: only order and completeness are tested
    elif mode == "duplicates":
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=50.0,
            duplicate=rng.choice([0.3, 0.6]),
        )
        timeout = 10**9
    else:
        faults = Faults(
            delay=(5.0, rng.choice([5.0, 30.0])),
            reorder=rng.choice([0.0, 0.3]),
            reorder_extra=rng.choice([40.0, 120.0]),
            drop=rng.choice([0.15, 0.3]),
        )
        timeout = rng.choice([20, 50, 80])
    received: list[tuple[int, int, str]] = []
    sends: list[tuple[int, int, str]] = []

    class Consumer(Process):
        def receive(self, ctx: Context, msg: Message) -> None:
            received.append((round(ctx.now), msg.payload["seq"], msg.id))

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
            sends.append((e.detail["payload"]["seq"], round(e.time), e.detail["msg"]))
    steps: list[tuple[str, int, int | None, str | None]] = [
        ("offer", t, s, m) for t, s, m in received
    ]
    # Ticks: some at random times, some exactly when a waiting message reaches the timeout.
    horizon = max((t for t, _, _ in received), default=0)
    for _ in range(rng.randint(0, 6)):
        steps.append(("tick", rng.randint(0, horizon + 10), None, None))
    if timeout < 10**9:
        for t, _, _ in received:
            if rng.random() < 0.4:
                steps.append(("tick", t + timeout + rng.choice([-1, 0, 0, 1]), None, None))
    steps.sort(key=lambda s: (s[1], s[0] == "tick"))
    return _BufferCase(net.seed, timeout, tuple(sends), tuple(steps), faults.summary())


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
    case: _BufferCase, ReorderBuffer: Any
) -> tuple[_BufferVerdict | None, list[tuple[int, str, Any, int]]]:
    """Drive a fresh buffer through ``case``; check the spec after every call.

    Returns the first violation (or None) and a log ``(step, "deliver"|"dlq", seq, now)``.
    """
    T = case.gap_timeout
    buf = call(ReorderBuffer, T, what=f"ReorderBuffer({T})")
    seq_of = {_payload(s): s for s, _, _ in case.sends}
    first_arrival: dict[int, int] = {}
    delivered: list[int] = []
    dset: set[int] = set()
    dlq: list[int] = []
    qset: set[int] = set()
    log: list[tuple[int, str, Any, int]] = []
    last_now = max((s[1] for s in case.steps), default=0)
    calls = list(case.steps) + [
        ("tick", last_now + T if T < 10**9 else last_now + 10**9, None, None)
    ]
    for k, (kind, now, seq, _mid) in enumerate(calls):
        if kind == "offer":
            first_arrival.setdefault(seq, now)
            out = call(
                buf.offer,
                seq,
                _payload(seq),
                now,
                what=f"offer({seq}, {_payload(seq)!r}, now={now})",
            )
            where = f"offer({seq}, ..., now={now})"
        else:
            out = call(buf.tick, now, what=f"tick(now={now})")
            where = f"tick(now={now})"
        if not isinstance(out, list):
            return _BufferVerdict(
                "returned something else",
                f"{where} returned {out!r}; expected a list of messages",
                k,
            ), log
        raw_dlq = getattr(buf, "dlq", None)
        if not isinstance(raw_dlq, list) or not all(type(x) is int for x in raw_dlq):
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
            if not expired:
                return _BufferVerdict(
                    "gave up on a gap too early",
                    f"{where} put seq {x} in the DLQ, but no message after it has "
                    f"waited gap_timeout={T} yet",
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
                    f"{where} delivered {m!r}; expected messages passed to offer()",
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
                return _BufferVerdict(
                    cat,
                    f"after {where}, seq {s} has waited {now - t} ms since it "
                    f"arrived at t={t} (gap_timeout={T}) and is still neither "
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
    highlight: dict[int, str] = {}
    words = []
    for t, _o, node, ev, d, w in rows:
        step = d.pop("_step", None)
        if step == verdict.at_step:
            highlight[len(trace)] = verdict.category
        trace.record(float(t), node, ev, **d)
        if w:
            words.append(w)
    words.append(f"  => {verdict.what}")
    return trace, highlight, words


def _buffer_check(ReorderBuffer: Any, mode: str, what: str, seed: int, cases: int) -> None:
    started = time.perf_counter()

    def run_case(case: _BufferCase) -> str | None:
        v, _ = _run_buffer_case(case, ReorderBuffer)
        return None if v is None else v.category

    found = sweep(cases, seed, lambda rng: _make_buffer_case(rng, mode), run_case)
    if found is None:
        passed(what, cases, started)
        return
    case, category, case_seed = found
    case, _msg = shrink(case, _same_category(run_case, category), _smaller_buffer_cases, budget=600)
    verdict, log = _run_buffer_case(case, ReorderBuffer)
    trace, highlight, words = _buffer_trace(case, log, verdict)
    fail(
        verdict.category,
        verdict.what,
        seed=case_seed,
        schedule=words,
        trace=trace,
        highlight=highlight,
        replay=f"network seed {case.seed}; {case.faults}; gap_timeout={case.gap_timeout}",
    )


def check_reorder_buffer_in_order(ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500) -> None:
    """Reordered streams (no loss, endless patience): every message delivered once, in seq order."""
    _buffer_check(ReorderBuffer, "in_order", "reorder buffer delivers in order", seed, cases)


def check_reorder_buffer_drops_duplicates(
    ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500
) -> None:
    """Streams with duplicate copies (and reordering): each seq delivered exactly once."""
    _buffer_check(ReorderBuffer, "duplicates", "reorder buffer drops duplicates", seed, cases)


def check_reorder_buffer_gap_timeout(
    ReorderBuffer: Any, *, seed: int = 0, cases: int = 1500
) -> None:
    """Lossy streams: a gap open for gap_timeout goes to the DLQ, never earlier, nothing is lost."""
    _buffer_check(ReorderBuffer, "gaps", "reorder buffer dead-letters gaps on time", seed, cases)


def check_reorder_buffer(ReorderBuffer: Any, *, seed: int = 0, cases: int = 1000) -> None:
    """All three reorder buffer checks."""
    check_reorder_buffer_in_order(ReorderBuffer, seed=seed, cases=cases)
    check_reorder_buffer_drops_duplicates(ReorderBuffer, seed=seed, cases=cases)
    check_reorder_buffer_gap_timeout(ReorderBuffer, seed=seed, cases=cases)


# =============================================================================================
# Partition function graders
# =============================================================================================


def _keys(seed: int, n: int) -> list[str]:
    """Seeded keys of the shapes real systems use: ids, emails, unicode names, the empty string."""
    rng = random.Random(seed)
    shapes = [
        lambda: f"user-{rng.randrange(10**6)}",
        lambda: f"order:{rng.randrange(10**9):09d}",
        lambda: (
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
            + "@example.com"
        ),
        lambda: rng.choice(["Zoë", "Łukasz", "東京", "Ελένη", "😀"]) + str(rng.randrange(1000)),
    ]
    keys = {"", "a"}
    while len(keys) < n:
        keys.add(rng.choice(shapes)())
    return sorted(keys)


def _partition_call(fn: Callable[[str, int], Any], key: str, n: int) -> int:
    got = call(fn, key, n, what=f"partition_for({key!r}, {n})")
    if type(got) is not int:
        fail(
            "partition is not an int",
            f"partition_for({key!r}, {n}) returned {got!r} ({type(got).__name__}); expected an int "
            f"in range(0, {n})",
        )
    return got


_SIZES = (1, 2, 3, 7, 16, 100)


def check_partition_same_key(
    partition_for: Callable[[str, int], Any], *, seed: int = 0, keys: int = 800
) -> None:
    """The same key always gets the same partition (asked again, in another order, among others)."""
    started = time.perf_counter()
    ks = _keys(seed, keys)
    rng = random.Random(seed)
    checked = 0
    for n in _SIZES:
        first = {k: _partition_call(partition_for, k, n) for k in ks}
        again = list(ks)
        rng.shuffle(again)
        for k in again:
            got = _partition_call(partition_for, k, n)
            checked += 1
            if got != first[k]:
                fail(
                    "same key, different partition",
                    f"partition_for({k!r}, {n}) returned {first[k]} the first time and {got} when "
                    "asked again; a key's partition must depend only on the key and n",
                    seed=seed,
                    expected=first[k],
                    got=got,
                )
    passed("same key -> same partition", checked, started)


def check_partition_in_range_and_spread(
    partition_for: Callable[[str, int], Any], *, seed: int = 0, keys: int = 3000
) -> None:
    """Every answer is an int in range(n), and keys spread evenly (each partition within ±40 %)."""
    started = time.perf_counter()
    ks = _keys(seed, keys)
    checked = 0
    for n in _SIZES + (32,):
        counts = [0] * n
        for k in ks:
            p = _partition_call(partition_for, k, n)
            checked += 1
            if not 0 <= p < n:
                fail(
                    "partition out of range",
                    f"partition_for({k!r}, {n}) returned {p}; expected 0 <= p < {n}",
                    seed=seed,
                    expected=f"0..{n - 1}",
                    got=p,
                )
            counts[p] += 1
        expected = len(ks) / n
        if n <= 32 and (max(counts) > 1.4 * expected or min(counts) < 0.6 * expected):
            fail(
                "keys do not spread evenly",
                f"with n={n}, {len(ks)} keys gave partition sizes {counts}; expected about "
                f"{expected:.0f} each (every partition within 40 %). A hot partition caps "
                "throughput: use a hash of the key's bytes",
                seed=seed,
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
    hash seed, asked about the keys in a shuffled order; every answer must equal the kernel's.
    Where the source was not kept (``exec``-ed code), the function's code is sent instead.
    """
    started = time.perf_counter()
    src = source if source is not None else _source_of(partition_for)
    portable = None
    if src is None:
        try:
            portable = _portable(partition_for)  # before any call here can fill a cache
        except ValueError as exc:
            fail("your function cannot run on its own", f"{exc}", seed=seed)
    ks = _keys(seed + 7919, keys)
    sizes = (3, 16, 97)
    here = {str(n): {k: _partition_call(partition_for, k, n) for k in ks} for n in sizes}
    procs = []
    for i, hs in enumerate(hash_seeds):
        env = dict(os.environ, PYTHONHASHSEED=str(hs))
        spec = json.dumps(
            {
                "source": src,
                "portable": portable,
                "name": partition_for.__name__,
                "keys": ks,
                "sizes": list(sizes),
                "shuffle": seed * 31 + i,
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
    results = []
    for hs, p, spec in procs:
        out, err = p.communicate(spec, timeout=60)
        try:
            res = json.loads(out)
        except ValueError:
            raise RuntimeError(
                f"the child interpreter failed (exit {p.returncode}): {err[-500:]}"
            ) from None
        if not res["ok"]:
            fail(
                "your cell does not run on its own",
                f"running your partition_for cell in a fresh Python (PYTHONHASHSEED={hs}) raised "
                f"{res['error']}; keep the cell self-contained: import what it uses inside it",
                seed=seed,
            )
        results.append((hs, res["answers"]))
    checked = 0
    for hs, answers in results:
        for n in here:
            for k in ks:
                checked += 1
                if answers[n][k] != here[n][k]:
                    fail(
                        "partition depends on the process's hash seed",
                        f"partition_for({k!r}, {n}) is {here[n][k]} in this kernel but "
                        f"{answers[n][k]} in a fresh Python with PYTHONHASHSEED={hs}. Python's "
                        "built-in hash() of a str is salted per process, so producers on two "
                        "machines would send the same key to different partitions; hash the "
                        "key's bytes with a fixed function (zlib.crc32, hashlib)",
                        seed=seed,
                        expected=here[n][k],
                        got=answers[n][k],
                    )
    passed(f"partition stable across {len(results)} fresh interpreters", checked, started)


def check_partition_function(partition_for: Callable[[str, int], Any], *, seed: int = 0) -> None:
    """All three partition checks."""
    check_partition_same_key(partition_for, seed=seed)
    check_partition_in_range_and_spread(partition_for, seed=seed)
    check_partition_stable_across_processes(partition_for, seed=seed)
