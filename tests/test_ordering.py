"""Unit tests of gotchalab.ordering: the graders accept right answers, reject wrong ones, repeat.

The correct implementations below are written here, in the test file, on purpose: the library
must not contain them (they are the exercise). Each wrong implementation is one classic mistake,
and each test names the category the grader must report for it.
"""

from __future__ import annotations

import linecache
import zlib

import pytest

from gotchalab import ordering as o
from gotchalab.check import CheckFailure
from gotchalab.sim import Faults
from gotchalab.timeline import draw_timeline

# -- correct implementations (the tests' own, not the library's) -------------------------------


class Lamport:
    def __init__(self) -> None:
        self.t = 0

    def tick(self) -> int:
        self.t += 1
        return self.t

    def send(self) -> int:
        return self.tick()

    def receive(self, ts: int) -> int:
        self.t = max(self.t, ts) + 1
        return self.t


class Vector:
    def __init__(self, node: str, nodes: list[str]) -> None:
        self.node = node
        self.v = dict.fromkeys(nodes, 0)

    def tick(self) -> dict[str, int]:
        self.v[self.node] += 1
        return dict(self.v)

    def send(self) -> dict[str, int]:
        return self.tick()

    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        for k, c in ts.items():
            self.v[k] = max(self.v[k], c)
        return self.tick()


def vcompare(a: dict[str, int], b: dict[str, int]) -> str:
    le = all(a[k] <= b[k] for k in a)
    ge = all(a[k] >= b[k] for k in a)
    return "equal" if le and ge else "before" if le else "after" if ge else "concurrent"


class Buffer:
    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self.next = 0
        self.waiting: dict[int, tuple[object, int]] = {}

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self.next and seq not in self.waiting:
            self.waiting[seq] = (msg, now)
        return self.tick(now)

    def tick(self, now: int) -> list:
        out = []
        while True:
            while self.next in self.waiting:
                out.append(self.waiting.pop(self.next)[0])
                self.next += 1
            if not any(now - t >= self.gap_timeout for _, t in self.waiting.values()):
                return out
            first = min(self.waiting)
            self.dlq.extend(range(self.next, first))
            self.next = first


def crc_partition(key: str, n: int) -> int:
    return zlib.crc32(key.encode()) % n


# -- wrong implementations ------------------------------------------------------------------------


class LamportNoMax(Lamport):
    def receive(self, ts: int) -> int:
        return self.tick()


class LamportNoPlusOne(Lamport):
    def receive(self, ts: int) -> int:
        self.t = max(self.t, ts)
        return self.t


class LamportFloat(Lamport):
    def tick(self) -> float:  # type: ignore[override]
        self.t += 1
        return float(self.t)


class VectorNoMerge(Vector):
    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        return self.tick()


def sum_compare(a: dict[str, int], b: dict[str, int]) -> str:
    sa, sb = sum(a.values()), sum(b.values())
    return "equal" if a == b else "before" if sa < sb else "after" if sa > sb else "concurrent"


class BufferPastGap(Buffer):
    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self.next:
            self.next = seq + 1
            return [msg]
        return []


class BufferNoDedupOfWaiting(Buffer):
    def __init__(self, gap_timeout: int) -> None:
        super().__init__(gap_timeout)
        self.copies: list[tuple[int, object]] = []

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self.next:
            self.copies.append((seq, msg))
        out = []
        self.copies.sort(key=lambda c: c[0])
        while self.copies and self.copies[0][0] <= self.next:
            s, m = self.copies.pop(0)
            out.append(m)
            self.next = s + 1
        return out


class BufferNoTimeout(Buffer):
    def tick(self, now: int) -> list:
        out = []
        while self.next in self.waiting:
            out.append(self.waiting.pop(self.next)[0])
            self.next += 1
        return out


class BufferDeadLettersArrived(Buffer):
    """Times a gap from when it opened, then dead-letters the whole window, arrivals included."""

    def tick(self, now: int) -> list:
        out = []
        while self.next in self.waiting:
            out.append(self.waiting.pop(self.next)[0])
            self.next += 1
        if any(now - t >= self.gap_timeout for _, t in self.waiting.values()):
            last = max(self.waiting)
            self.dlq.extend(range(self.next, last + 1))
            self.waiting.clear()
            self.next = last + 1
        return out


class BufferDeliversLate(Buffer):
    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq in self.dlq:
            return [msg]  # a late arrival after its gap was given up on, passed through
        return super().offer(seq, msg, now)


class Stub:
    def __init__(self, *args: object) -> None:
        raise NotImplementedError()


def hash_partition(key: str, n: int) -> int:
    return hash(key) % n


def off_by_one_partition(key: str, n: int) -> int:
    return zlib.crc32(key.encode()) % (n + 1)


def length_partition(key: str, n: int) -> int:
    return len(key) % n


_seen: dict[str, int] = {}


def sticky_round_robin(key: str, n: int) -> int:
    """Remembers the partition of each key it has seen: consistent here, arbitrary elsewhere."""
    if key not in _seen:
        _seen[key] = len(_seen)
    return _seen[key] % n


# -- the graders accept correct code ---------------------------------------------------------------


def test_correct_implementations_pass(capsys: pytest.CaptureFixture[str]) -> None:
    o.check_lamport_clock(Lamport, cases=150)
    o.check_vector_clock(Vector, vcompare, cases=80)
    o.check_reorder_buffer(Buffer, cases=200)
    o.check_partition_same_key(crc_partition, keys=200)
    o.check_partition_in_range_and_spread(crc_partition, keys=2000)
    out = capsys.readouterr().out
    assert out.count("✓") == 10, out
    # scripted cases come on top of the seeded ones
    assert f"{150 + len(o._CLOCK_SCRIPTS)} cases" in out, out
    assert f"{200 + len(o._BUFFER_SCRIPTS['gaps'])} cases" in out, out


def test_partition_stable_with_cell_source() -> None:
    src = "import zlib\n\n\ndef partition_for(key, n):\n    return zlib.crc32(key.encode()) % n\n"
    ns: dict = {}
    exec(compile(src, "<test cell>", "exec"), ns)
    o.check_partition_stable_across_processes(ns["partition_for"], source=src, keys=100)


def test_partition_stable_from_linecache_and_from_marshal() -> None:
    # As IPython does: the cell's source is kept in linecache under the code's filename.
    src = "import zlib\nSALT = b'k:'\n\n\ndef partition_for(key, n):\n    return zlib.crc32(SALT + key.encode()) % n\n"
    name = "<ipython-like cell 1>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    try:
        ns: dict = {}
        exec(compile(src, name, "exec"), ns)
        o.check_partition_stable_across_processes(ns["partition_for"], keys=100)
    finally:
        del linecache.cache[name]
    # As a re-grade does: exec'd code with no source kept; the code object travels instead.
    ns2: dict = {}
    exec(compile(src, "<no source kept>", "exec"), ns2)
    o.check_partition_stable_across_processes(ns2["partition_for"], keys=100)


# -- the graders reject wrong code, with the right category -----------------------------------------


def _category(fn, *args, **kw) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kw)
    return info.value


@pytest.mark.parametrize(
    ("check", "impl", "category"),
    [
        (o.check_lamport_receive_takes_max, LamportNoMax, "receive ignored the sender's clock"),
        (o.check_lamport_respects_causality, LamportNoMax, "clock contradicts happens-before"),
        (o.check_lamport_monotonic, LamportNoPlusOne, "clock did not advance on receive"),
        (o.check_lamport_receive_takes_max, LamportNoPlusOne, "receive did not add one"),
        (o.check_lamport_monotonic, LamportFloat, "timestamp has the wrong type"),
        (o.check_lamport_monotonic, Stub, "not implemented yet"),
    ],
)
def test_lamport_rejects(check, impl, category: str) -> None:
    err = _category(check, impl, cases=300)
    assert err.category == category, err.report()


def test_lamport_without_max_passes_monotonic_only() -> None:
    # Partial credit is real: a clock that only ticks on receive still advances on every event.
    o.check_lamport_monotonic(LamportNoMax, cases=300)


def test_vector_rejects() -> None:
    err = _category(o.check_vector_clock_orders_causal, VectorNoMerge, vcompare, cases=200)
    assert err.category == "receive did not merge the sender's vector"
    err = _category(o.check_vector_clock_detects_concurrency, Vector, sum_compare, cases=200)
    assert err.category == "called concurrent events ordered"
    # Each mistake costs only its own aspect.
    o.check_vector_clock_detects_concurrency(VectorNoMerge, vcompare, cases=150)
    o.check_vector_clock_orders_causal(Vector, sum_compare, cases=150)


@pytest.mark.parametrize(
    ("check", "impl", "category"),
    [
        (o.check_reorder_buffer_in_order, BufferPastGap, "delivered past a gap"),
        (o.check_reorder_buffer_drops_duplicates, BufferNoDedupOfWaiting, "delivered a duplicate"),
        (o.check_reorder_buffer_gap_timeout, BufferNoTimeout, "blocked past the gap timeout"),
        (
            o.check_reorder_buffer_gap_timeout,
            BufferDeadLettersArrived,
            "dead-lettered a message that arrived",
        ),
        (
            o.check_reorder_buffer_gap_timeout,
            BufferDeliversLate,
            "delivered a dead-lettered message",
        ),
        (o.check_reorder_buffer_in_order, Stub, "not implemented yet"),
    ],
)
def test_buffer_rejects(check, impl, category: str) -> None:
    err = _category(check, impl, cases=600)
    assert err.category == category, err.report()
    if impl is not Stub:
        assert err.trace is not None and err.highlight, "a failure comes with a timeline"


def test_buffer_mistakes_cost_only_their_aspect() -> None:
    o.check_reorder_buffer_in_order(BufferNoTimeout, cases=300)
    o.check_reorder_buffer_drops_duplicates(BufferNoTimeout, cases=300)
    o.check_reorder_buffer_in_order(BufferNoDedupOfWaiting, cases=300)


def test_buffer_failure_is_shrunk_to_a_small_schedule() -> None:
    err = _category(o.check_reorder_buffer_in_order, BufferPastGap, cases=300)
    # Smallest story: seq 0 is sent, seq 1 arrives first and is delivered.
    assert "seq 1 while seq 0" in err.what, err.report()
    assert len(err.schedule) <= 5, err.schedule


def test_partition_rejects() -> None:
    err = _category(
        o.check_partition_stable_across_processes,
        hash_partition,
        keys=100,
        source="def hash_partition(key, n):\n    return hash(key) % n\n",
    )
    assert err.category == "partition depends on the process's hash seed"
    assert _category(o.check_partition_in_range_and_spread, off_by_one_partition).category == (
        "partition out of range"
    )
    assert _category(o.check_partition_in_range_and_spread, length_partition).category == (
        "keys do not spread evenly"
    )
    # Built-in hash() is consistent inside one process: only the cross-process check catches it.
    o.check_partition_same_key(hash_partition, keys=100)


def test_partition_rejects_remembered_assignments() -> None:
    # A stateful function: same answers here, but a fresh process sees keys in another order.
    _seen.clear()
    src = (
        "_seen = {}\n\n\ndef sticky_round_robin(key, n):\n    if key not in _seen:\n"
        "        _seen[key] = len(_seen)\n    return _seen[key] % n\n"
    )
    err = _category(
        o.check_partition_stable_across_processes, sticky_round_robin, source=src, keys=100
    )
    assert err.category == "partition depends on the process's hash seed"
    # Without the source, its mutable global is refused rather than copied with answers in it.
    ns: dict = {}
    exec(compile(src, "<no source kept>", "exec"), ns)
    err = _category(o.check_partition_stable_across_processes, ns["sticky_round_robin"], keys=100)
    assert err.category == "your function cannot run on its own"


# -- determinism ---------------------------------------------------------------------------------------


def test_same_seed_same_verdict() -> None:
    a = _category(o.check_lamport_respects_causality, LamportNoMax, seed=3, cases=300)
    b = _category(o.check_lamport_respects_causality, LamportNoMax, seed=3, cases=300)
    assert a.report() == b.report()
    assert a.trace == b.trace
    c = _category(o.check_reorder_buffer_gap_timeout, BufferNoTimeout, seed=5, cases=300)
    d = _category(o.check_reorder_buffer_gap_timeout, BufferNoTimeout, seed=5, cases=300)
    assert c.report() == d.report()


def test_failure_timeline_carries_learner_timestamps() -> None:
    import matplotlib

    matplotlib.use("Agg")
    err = _category(o.check_lamport_receive_takes_max, LamportNoMax, cases=300)
    stamped = [e for e in err.trace if e.event == "recv"]
    assert stamped and all("clock" in e.detail for e in stamped)
    fig = draw_timeline(err.trace, highlight=err.highlight)
    assert fig.axes


# -- demo models ---------------------------------------------------------------------------------------


UPDATES = [
    {"op": "set_status", "value": "paid"},
    {"op": "add", "amount": 30},
    {"op": "set_status", "value": "shipped"},
    {"op": "add", "amount": -5},
    {"op": "set_status", "value": "delivered"},
]


def test_naive_consumer_keeps_sums_but_loses_the_last_status() -> None:
    faults = Faults(delay=(1.0, 30.0), reorder=0.3, reorder_extra=40.0)
    statuses = set()
    for seed in range(40):
        trace, consumer = o.run_stream(seed, UPDATES, faults=faults)
        assert consumer.state["balance"] == 25  # addition commutes
        statuses.add(consumer.state["status"])
        again, _ = o.run_stream(seed, UPDATES, faults=faults)
        assert trace == again
    assert "delivered" in statuses and len(statuses) > 1  # overwrite does not commute


def test_partition_model_orders_keys_only_when_keys_stick() -> None:
    events = o.keyed_workload(1, 2000, hot_share=0.2)
    by_key = o.simulate_partitions(events, 4, lambda k, i: crc_partition(k, 4))
    round_robin = o.simulate_partitions(events, 4, lambda k, i: i % 4)
    assert by_key["keys_reordered"] == 0
    assert round_robin["keys_reordered"] > 0
    assert round_robin["max_lag"] < by_key["max_lag"]  # the price of order: the hot key's queue
    with pytest.raises(ValueError, match="expected an int"):
        o.simulate_partitions(events, 4, lambda k, i: 4)


def test_lww_loses_updates_union_keeps_them() -> None:
    lww = o.run_lww(2, merge="lww")
    union = o.run_lww(2, merge="union")
    assert lww["lost"] and not union["lost"]
    assert o.run_lww(2, merge="lww")["trace"] == lww["trace"]


# -- exact values, copies, combined features, ranges (issue 6) -------------------------------------


class LamportStartsAtOne(Lamport):
    def __init__(self) -> None:
        self.t = 1


class LamportReceiveTwice(Lamport):
    def receive(self, ts: int) -> int:
        self.t = max(self.t, ts) + 1
        return self.tick()


class LamportReceiveOnlyTs(Lamport):
    def receive(self, ts: int) -> int:
        self.t = ts + 1
        return self.t


@pytest.mark.parametrize(
    ("check", "impl", "category"),
    [
        (o.check_lamport_monotonic, LamportStartsAtOne, "first event is not 1"),
        (o.check_lamport_receive_takes_max, LamportReceiveTwice, o._AMBIGUOUS),
        (o.check_lamport_receive_takes_max, LamportReceiveOnlyTs, "receive ignored its own clock"),
    ],
)
def test_lamport_exact_values(check, impl, category: str) -> None:
    err = _category(check, impl, cases=50)
    assert err.category == category, err.report()
    if impl is not LamportReceiveOnlyTs:
        # These keep every inequality: only the exact values give them away.
        o.check_lamport_respects_causality(impl, cases=100)


class VectorAliased(Vector):
    def tick(self) -> dict[str, int]:
        self.v[self.node] += 1
        return self.v


class VectorAdoptsTs(Vector):
    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        for k, c in self.v.items():
            ts[k] = max(ts[k], c)
        self.v = ts
        return self.tick()


class VectorReceiveNotCounted(Vector):
    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        for k, c in ts.items():
            self.v[k] = max(self.v[k], c)
        return dict(self.v)


class VectorStartsAtOne(Vector):
    def __init__(self, node: str, nodes: list[str]) -> None:
        super().__init__(node, nodes)
        self.v = dict.fromkeys(nodes, 1)


class VectorEatsNodes(Vector):
    def __init__(self, node: str, nodes: list[str]) -> None:
        super().__init__(node, nodes)
        nodes.remove(node)


def any_smaller_compare(a: dict[str, int], b: dict[str, int]) -> str:
    if a == b:
        return "equal"
    return "before" if any(a[k] < b[k] for k in a) else "after"


@pytest.mark.parametrize(
    ("impl", "category"),
    [
        (VectorAliased, "vector clock shares a dict with its caller"),
        (VectorAdoptsTs, "vector clock shares a dict with its caller"),
        (VectorEatsNodes, "vector clock shares a dict with its caller"),
        (VectorReceiveNotCounted, "receive did not add one to the node's own entry"),
        (VectorStartsAtOne, "vector clock did not start at all zeros"),
    ],
)
def test_vector_exact_values_and_copies(impl, category: str) -> None:
    err = _category(o.check_vector_clock_orders_causal, impl, vcompare, cases=50)
    assert err.category == category, err.report()


def test_vector_compare_scripted_pairs() -> None:
    err = _category(o.check_vector_clock_detects_concurrency, Vector, any_smaller_compare, cases=5)
    assert err.category == "called concurrent events ordered"
    assert err.replay.startswith("compare({"), err.report()


def test_copy_probe_runs_beside_a_remote_learner() -> None:
    """In the judge the probes run in the learner's process, through check.beside."""
    calls = []

    class Session:
        def libcall(self, fn, args, kw):
            calls.append(fn.__name__)
            return fn(*[a.real if isinstance(a, Remote) else a for a in args], **kw)

        def request(self, kind, _target, fn, arglists):  # check.map_calls: a batch of calls
            assert kind == "map"
            return [fn.real(*a) for a in arglists]

    class Remote:
        __gotchalab_remote__ = True
        __gotchalab_session__ = Session()

        def __init__(self, real) -> None:
            self.real = real

        def __call__(self, *args):
            return self.real(*args)

    o.check_vector_clock_orders_causal(Remote(Vector), vcompare, cases=20)
    err = _category(o.check_vector_clock_orders_causal, Remote(VectorAliased), vcompare, cases=20)
    assert err.category == "vector clock shares a dict with its caller"
    o.check_partition_stable_across_processes(Remote(crc_partition), keys=50)
    assert calls == ["_vector_copy_probe", "_vector_copy_probe", "_stability_probe"]


class BufferStrictTimeout(Buffer):
    def tick(self, now: int) -> list:
        return super().tick(now - 1)


class BufferDuplicateRestartsWait(Buffer):
    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self.next:
            self.waiting[seq] = (msg, now)
        return self.tick(now)


class BufferTimesOutFirst(Buffer):
    def offer(self, seq: int, msg: object, now: int) -> list:
        out = self.tick(now)
        return out + super().offer(seq, msg, now)


class BufferDlqDescending(Buffer):
    def tick(self, now: int) -> list:
        before = len(self.dlq)
        out = super().tick(now)
        self.dlq[before:] = sorted(self.dlq[before:], reverse=True)
        return out


class BufferSeconds(Buffer):
    def __init__(self, gap_timeout: int) -> None:
        super().__init__(gap_timeout * 1000)


class BufferForgetsDeadLetters(Buffer):
    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq in self.dlq and seq in self.waiting:
            return [msg]
        if seq in self.dlq:
            self.waiting[seq] = (msg, now)  # parked, then delivered by the next copy
            return []
        return super().offer(seq, msg, now)


@pytest.mark.parametrize(
    ("check", "impl", "category"),
    [
        (o.check_reorder_buffer_gap_timeout, BufferStrictTimeout, "blocked past the gap timeout"),
        (
            o.check_reorder_buffer_gap_timeout,
            BufferDuplicateRestartsWait,
            "blocked past the gap timeout",
        ),
        (
            o.check_reorder_buffer_gap_timeout,
            BufferTimesOutFirst,
            "dead-lettered a message that arrived",
        ),
        (o.check_reorder_buffer_gap_timeout, BufferDlqDescending, "dead-letter queue out of order"),
        (o.check_reorder_buffer_gap_timeout, BufferSeconds, "blocked past the gap timeout"),
        (
            o.check_reorder_buffer_drops_duplicates,
            BufferForgetsDeadLetters,
            "delivered a dead-lettered message",
        ),
    ],
)
def test_buffer_exact_rules(check, impl, category: str) -> None:
    err = _category(check, impl, cases=20)  # the scripted streams reach each of these
    assert err.category == category, err.report()


def test_buffer_duplicates_with_pending_timeouts_do_not_cost_timing_points() -> None:
    # The duplicates cell judges "once" only, also on streams with finite timeouts.
    o.check_reorder_buffer_drops_duplicates(BufferNoTimeout, cases=300)
    o.check_reorder_buffer_drops_duplicates(BufferStrictTimeout, cases=300)


def test_replay_names_the_visible_call_and_reproduces_the_report() -> None:
    import random

    class OneInFifty(Lamport):
        def receive(self, ts: int) -> int:
            self.t = max(self.t, ts) + (2 if ts >= 9 else 1)
            return self.t

    err = _category(o.check_lamport_receive_takes_max, OneInFifty, seed=4, cases=400)
    assert err.seed == 4
    assert err.replay.startswith("check_lamport_receive_takes_max(LamportClock, seed=4, case=")
    k = int(err.replay.rsplit("case=", 1)[1].rstrip(")"))
    assert k >= len(o._CLOCK_SCRIPTS), "a seeded case, not a scripted one"
    env = {"o": o, "LamportClock": OneInFifty}
    again = _category(lambda: eval("o." + err.replay, env))
    assert again.report() == err.report()
    random.seed(0)  # the sweep does not depend on global random state
    assert _category(lambda: eval("o." + err.replay, env)).report() == err.report()


@pytest.mark.parametrize(
    "check",
    [
        lambda: o.check_lamport_monotonic(Stub),
        lambda: o.check_vector_clock_orders_causal(Stub, vcompare),
        lambda: o.check_reorder_buffer_gap_timeout(Stub),
    ],
)
def test_a_stub_fails_once_plainly(check) -> None:
    err = _category(check)
    assert err.category == "not implemented yet"
    assert err.seed is None and not err.schedule and err.trace is None


def sum_partition(key: str, n: int) -> int:
    return sum(key.encode()) % n


def prefix_partition(key: str, n: int) -> int:
    return zlib.crc32(key[:8].encode()) % n


def mask_partition(key: str, n: int) -> int:
    return zlib.crc32(key.encode()) & (n - 1)


def short_hash_partition(key: str, n: int) -> int:
    return (zlib.crc32(key.encode()) & 0xFFFF) % n


@pytest.mark.parametrize(
    "fn", [sum_partition, prefix_partition, mask_partition, short_hash_partition]
)
def test_partition_spread_over_shapes_and_large_n(fn) -> None:
    err = _category(o.check_partition_in_range_and_spread, fn, keys=600)
    assert err.category == "keys do not spread evenly", err.report()
