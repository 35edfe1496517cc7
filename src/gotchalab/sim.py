"""A deterministic, seeded network of simulated nodes, with the faults real networks have.

Nodes are :class:`Process` objects that react to messages and timers through a :class:`Context`.
The :class:`Network` delivers messages with a random delay and, as :class:`Faults` asks, reorders,
duplicates, drops, partitions and crashes. Everything is recorded in one
:class:`~gotchalab.trace.Trace`.

Why hand-written: the course needs a discrete-event simulator whose every random choice comes
from one seeded ``random.Random`` and whose trace is the course's trace type, fast enough to run
thousands of seeded runs inside a two-second graded cell. General simulators (SimPy and the like)
bring coroutines, real-time clocks and their own event logs, and none of fault injection.

Invariants
----------
* Same seed, same faults, same processes -> equal traces (one ``random.Random(seed)`` draws every
  delay and fault; ties in time are broken by scheduling order).
* A message is received at most once per copy; a duplicate is a second copy of the *same* message
  id; a dropped copy is recorded as ``drop`` with a reason and never received.
* A crashed node loses its process object (its memory); messages that reach it while it is down are
  dropped; on recovery the node's factory builds a fresh process and ``start`` runs again.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .trace import CRASH, DROP, DUP, HEAL, PARTITION, RECOVER, RECV, SEND, Trace

__all__ = ["Faults", "Partition", "Crash", "Message", "Context", "Process", "Network"]


@dataclass(frozen=True)
class Partition:
    """From ``start`` to ``end`` only nodes in the same group can talk; others' messages drop."""

    start: float
    end: float
    groups: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(
                f"partition must end after it starts: start={self.start}, end={self.end}"
            )
        seen = [n for g in self.groups for n in g]
        if len(seen) != len(set(seen)):
            raise ValueError(f"a node appears in two partition groups: {self.groups}")

    def separates(self, a: str, b: str) -> bool:
        ga = next((i for i, g in enumerate(self.groups) if a in g), None)
        gb = next((i for i, g in enumerate(self.groups) if b in g), None)
        return ga != gb


@dataclass(frozen=True)
class Crash:
    """``node`` crashes at ``at`` and, unless ``recover`` is None, restarts empty at ``recover``."""

    node: str
    at: float
    recover: float | None = None

    def __post_init__(self) -> None:
        if self.recover is not None and not self.recover > self.at:
            raise ValueError(f"crash of {self.node} must recover after it happens: {self}")


@dataclass(frozen=True)
class Faults:
    """What the network does wrong. Probabilities are per message copy, in [0, 1].

    * ``delay``: each copy takes a uniform delay in ``[lo, hi]``; a wide range alone reorders.
    * ``reorder``: chance that a copy is held back an extra ``reorder_extra`` time units, so that
      later messages overtake it.
    * ``duplicate``: chance that a message is delivered twice (two copies, same id).
    * ``drop``: chance that a copy is lost.
    * ``partitions`` / ``crashes``: scheduled splits of the network and node crashes.
    """

    delay: tuple[float, float] = (1.0, 1.0)
    reorder: float = 0.0
    reorder_extra: float = 10.0
    duplicate: float = 0.0
    drop: float = 0.0
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()

    def __post_init__(self) -> None:
        lo, hi = self.delay
        if not 0 <= lo <= hi:
            raise ValueError(f"delay must be (lo, hi) with 0 <= lo <= hi, got {self.delay!r}")
        for name in ("reorder", "duplicate", "drop"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {p!r}")

    def summary(self) -> str:
        """The faults in a few words, for reports."""
        parts = [f"delay {self.delay[0]:g}-{self.delay[1]:g}"]
        for name in ("reorder", "duplicate", "drop"):
            p = getattr(self, name)
            if p:
                parts.append(f"{name} {p:.0%}")
        parts += [
            "partition "
            + " | ".join("{" + ",".join(g) + "}" for g in p.groups)
            + f" t={p.start:g}-{p.end:g}"
            for p in self.partitions
        ]
        parts += [
            f"crash {c.node} t={c.at:g}" + (f" (restart t={c.recover:g})" if c.recover else "")
            for c in self.crashes
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class Message:
    """A message copy as a process sees it. ``id`` is shared by duplicate copies."""

    id: str
    src: str
    dst: str
    payload: Any
    sent_at: float


class Process:
    """Base class for a node's behaviour. Override what you need; all hooks are optional."""

    def start(self, ctx: Context) -> None:
        """Called once when the node starts (and again, on a fresh object, after a restart)."""

    def receive(self, ctx: Context, msg: Message) -> None:
        """Called for each message copy that reaches this node."""


class Context:
    """What a process may do: read the clock, send, set timers, record events of its own."""

    __slots__ = ("_net", "node")

    def __init__(self, net: Network, node: str) -> None:
        self._net = net
        self.node = node

    @property
    def now(self) -> float:
        return self._net.now

    @property
    def rng(self) -> random.Random:
        """The network's seeded random source (use it, never the global ``random``)."""
        return self._net.rng

    def send(self, dst: str, payload: Any = None) -> str:
        """Send ``payload`` to ``dst``; returns the message id (``m1``, ``m2``, ...)."""
        return self._net._send(self.node, dst, payload)

    def after(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(ctx, *args)`` on this node ``delay`` time units from now (lost on a crash)."""
        self._net._timer(self.node, delay, fn, args)

    def log(self, event: str, **detail: Any) -> None:
        """Record a local event of this node in the trace."""
        self._net.trace.record(self._net.now, self.node, event, **detail)


@dataclass
class _NodeState:
    factory: Callable[[], Process]
    process: Process | None = None
    epoch: int = 0  # bumps on every crash so stale timers are ignored
    up: bool = True


@dataclass(order=True)
class _Item:
    time: float
    seq: int
    kind: str = field(compare=False)
    data: tuple = field(compare=False)


class Network:
    """A seeded discrete-event network. Add nodes, schedule actions, ``run()``, read ``trace``.

    >>> class Echo(Process):
    ...     def receive(self, ctx, msg):
    ...         ctx.log("got", value=msg.payload)
    >>> net = Network(seed=1, nodes={"A": Process, "B": Echo})
    >>> net.at(0, "A", lambda ctx: ctx.send("B", "hi"))
    >>> [e.event for e in net.run()]
    ['send', 'recv', 'got']
    """

    def __init__(
        self,
        seed: int,
        nodes: dict[str, Callable[[], Process]] | Iterable[str] = (),
        faults: Faults | None = None,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.now = 0.0
        self.trace = Trace(seed=seed, meta={"faults": self.faults.summary()})
        self._queue: list[_Item] = []
        self._seq = 0
        self._msg_count = 0
        self._nodes: dict[str, _NodeState] = {}
        self._started = False
        if isinstance(nodes, dict):
            for name, factory in nodes.items():
                self.add_node(name, factory)
        else:
            for name in nodes:
                self.add_node(name, Process)
        for p in self.faults.partitions:
            self._push(p.start, "partition", (p,))
            self._push(p.end, "heal", (p,))
        for c in self.faults.crashes:
            self._push(c.at, "crash", (c.node,))
            if c.recover is not None:
                self._push(c.recover, "recover", (c.node,))

    # -- building --------------------------------------------------------------------------
    def add_node(self, name: str, factory: Callable[[], Process] = Process) -> None:
        """Add a node whose behaviour ``factory()`` builds (called again after each restart)."""
        if self._started:
            raise RuntimeError("add nodes before run()")
        if name in self._nodes:
            raise ValueError(f"node {name!r} already exists")
        self._nodes[name] = _NodeState(factory)
        self.trace.nodes.append(name)

    def process(self, name: str) -> Process | None:
        """The live process object on ``name`` (None while it is crashed)."""
        return self._node(name).process

    def at(self, time: float, node: str, fn: Callable[[Context], None]) -> None:
        """Schedule ``fn(ctx)`` to run on ``node`` at ``time`` (skipped if the node is down)."""
        self._node(node)
        self._push(float(time), "call", (node, fn, (), None))

    # -- internals -------------------------------------------------------------------------
    def _node(self, name: str) -> _NodeState:
        try:
            return self._nodes[name]
        except KeyError:
            raise ValueError(f"unknown node {name!r}; nodes are {sorted(self._nodes)}") from None

    def _push(self, time: float, kind: str, data: tuple) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Item(time, self._seq, kind, data))

    def _partitioned(self, a: str, b: str) -> bool:
        return any(
            p.start <= self.now < p.end and p.separates(a, b) for p in self.faults.partitions
        )

    def _send(self, src: str, dst: str, payload: Any) -> str:
        self._node(dst)
        self._msg_count += 1
        mid = f"m{self._msg_count}"
        self.trace.record(self.now, src, SEND, msg=mid, dst=dst, payload=payload)
        f = self.faults
        rng = self.rng
        copies = 2 if f.duplicate and rng.random() < f.duplicate else 1
        if copies == 2:
            self.trace.record(self.now, src, DUP, msg=mid, copy=2)
        for copy in range(1, copies + 1):
            if self._partitioned(src, dst):
                self.trace.record(
                    self.now, src, DROP, msg=mid, src=src, dst=dst, reason="partition"
                )
                continue
            if f.drop and rng.random() < f.drop:
                self.trace.record(self.now, src, DROP, msg=mid, src=src, dst=dst, reason="lost")
                continue
            lo, hi = f.delay
            delay = lo if lo == hi else rng.uniform(lo, hi)
            if f.reorder and rng.random() < f.reorder:
                delay += f.reorder_extra
            msg = Message(mid, src, dst, payload, self.now)
            self._push(round(self.now + delay, 3), "deliver", (msg, copy))
        return mid

    def _timer(self, node: str, delay: float, fn: Callable[..., None], args: tuple) -> None:
        if delay < 0:
            raise ValueError(f"timer delay must be >= 0, got {delay!r}")
        st = self._node(node)
        self._push(round(self.now + delay, 3), "call", (node, fn, args, st.epoch))

    def _boot(self, name: str) -> None:
        st = self._nodes[name]
        st.process = st.factory()
        st.up = True
        st.process.start(Context(self, name))

    # -- running ---------------------------------------------------------------------------
    def run(self, until: float | None = None, max_events: int = 100_000) -> Trace:
        """Process events in time order until none remain (or ``until``); return the trace."""
        if not self._started:
            self._started = True
            for name in self._nodes:
                self._boot(name)
        handled = 0
        q = self._queue
        trace = self.trace
        while q:
            if until is not None and q[0].time > until:
                break
            item = heapq.heappop(q)
            self.now = item.time
            handled += 1
            if handled > max_events:
                raise RuntimeError(
                    f"simulation exceeded {max_events} events (seed {self.seed}); "
                    "a process probably sends or sets timers forever"
                )
            kind = item.kind
            if kind == "deliver":
                msg, _copy = item.data
                st = self._nodes[msg.dst]
                if not st.up:
                    trace.record(
                        self.now,
                        msg.dst,
                        DROP,
                        msg=msg.id,
                        src=msg.src,
                        dst=msg.dst,
                        reason="node down",
                    )
                    continue
                trace.record(self.now, msg.dst, RECV, msg=msg.id, src=msg.src, payload=msg.payload)
                st.process.receive(Context(self, msg.dst), msg)
            elif kind == "call":
                node, fn, args, epoch = item.data
                st = self._nodes[node]
                if not st.up or (epoch is not None and epoch != st.epoch):
                    continue
                fn(Context(self, node), *args)
            elif kind == "partition":
                (p,) = item.data
                trace.record(self.now, "network", PARTITION, groups=[list(g) for g in p.groups])
            elif kind == "heal":
                trace.record(self.now, "network", HEAL)
            elif kind == "crash":
                (node,) = item.data
                st = self._nodes[node]
                if st.up:
                    st.up = False
                    st.process = None
                    st.epoch += 1
                    trace.record(self.now, node, CRASH)
            elif kind == "recover":
                (node,) = item.data
                if not self._nodes[node].up:
                    trace.record(self.now, node, RECOVER)
                    self._boot(node)
        if until is not None:
            self.now = max(self.now, until)
        return trace
