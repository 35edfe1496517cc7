"""Unit and property tests of the core library: trace, sim, explore, check, timeline."""

from __future__ import annotations

import math
import random

import matplotlib.pyplot as plt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gotchalab import Crash, Faults, Network, Partition, Process, Step, Trace, explore, replay
from gotchalab.check import CheckFailure, call, fail, same_value, shrink, sweep
from gotchalab.explore import freeze
from gotchalab.timeline import draw_timeline


class Gossip(Process):
    """Forwards the first few messages it sees to a random peer; enough to make causal chains."""

    def start(self, ctx):
        self.seen = 0

    def receive(self, ctx, msg):
        self.seen += 1
        ctx.log("apply", value=msg.payload)
        if self.seen <= 2:
            peer = ctx.rng.choice([n for n in ("A", "B", "C") if n != ctx.node])
            ctx.send(peer, f"{msg.payload}>{ctx.node}")


def run_gossip(seed: int, faults: Faults) -> Trace:
    net = Network(seed, nodes={n: Gossip for n in "ABC"}, faults=faults)
    for i, n in enumerate("ABC"):
        net.at(i * 0.5, n, lambda ctx, i=i: ctx.send("ABC"[(i + 1) % 3], f"x{i}"))
    return net.run()


faults_st = st.builds(
    Faults,
    delay=st.tuples(st.floats(0, 2), st.floats(0, 3)).map(lambda t: (t[0], t[0] + t[1])),
    reorder=st.floats(0, 1),
    duplicate=st.floats(0, 1),
    drop=st.floats(0, 1),
    crashes=st.lists(
        st.builds(Crash, node=st.sampled_from("ABC"), at=st.floats(0, 5), recover=st.just(None)),
        max_size=1,
    ).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), faults=faults_st)
def test_same_seed_same_trace(seed, faults):
    assert run_gossip(seed, faults).rows() == run_gossip(seed, faults).rows()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), faults=faults_st)
def test_every_receive_has_an_earlier_send_and_copies_are_bounded(seed, faults):
    trace = run_gossip(seed, faults)
    msgs = trace.messages()
    dups = {e.detail["msg"] for e in trace if e.event == "duplicate"}
    for mid, (send_i, recvs) in msgs.items():
        assert all(r > send_i for r in recvs)
        assert len(recvs) <= (2 if mid in dups else 1)
    times = [e.time for e in trace]
    assert times == sorted(times)


def _closure(trace: Trace) -> set[tuple[int, int]]:
    """Happens-before by Warshall's algorithm over explicit edges (independent of the bitsets)."""
    evs = trace.events
    n = len(evs)
    edges = set()
    last = {}
    sends = {}
    for i, e in enumerate(evs):
        if e.node in last:
            edges.add((last[e.node], i))
        last[e.node] = i
        if e.event == "send":
            sends[e.detail["msg"]] = i
        if e.event == "recv":
            edges.add((sends[e.detail["msg"]], i))
    reach = [[(i, j) in edges for j in range(n)] for i in range(n)]
    for k in range(n):
        for i in range(n):
            if reach[i][k]:
                for j in range(n):
                    if reach[k][j]:
                        reach[i][j] = True
    return {(i, j) for i in range(n) for j in range(n) if reach[i][j]}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), faults=faults_st)
def test_happens_before_equals_transitive_closure(seed, faults):
    trace = run_gossip(seed, faults)
    hb = trace.happens_before()
    got = {(j, i) for i in range(len(trace)) for j in range(len(trace)) if hb[i] >> j & 1}
    assert got == _closure(trace)


def test_relation_names():
    net = Network(0, nodes=["A", "B"])
    net.at(0, "A", lambda ctx: ctx.send("B", 1))
    net.at(0, "B", lambda ctx: ctx.log("local"))
    t = net.run()
    kinds = [e.event for e in t]
    send, local, recv = kinds.index("send"), kinds.index("local"), kinds.index("recv")
    hb = t.happens_before()
    assert t.relation(send, recv, hb) == "before"
    assert t.relation(recv, send, hb) == "after"
    assert t.relation(send, local, hb) == "concurrent"
    assert t.relation(local, recv, hb) == "before"  # program order on B


def test_partition_drops_and_crash_loses_state_and_timers():
    class Keeper(Process):
        def start(self, ctx):
            self.values = []
            ctx.after(5, lambda c: c.log("timer fired"))

        def receive(self, ctx, msg):
            self.values.append(msg.payload)

    faults = Faults(partitions=(Partition(0, 2, (("A",), ("B",))),), crashes=(Crash("B", 3, 4),))
    net = Network(1, nodes={"A": Process, "B": Keeper}, faults=faults)
    net.at(1, "A", lambda ctx: ctx.send("B", "during partition"))
    net.at(2.5, "A", lambda ctx: ctx.send("B", "before crash"))
    t = net.run()
    drops = [e for e in t if e.event == "drop"]
    # one copy lost to the partition, one to the crashed node (sent at 2.5, due at 3.5)
    assert [d.detail["reason"] for d in drops] == ["partition", "node down"]
    assert net.process("B").values == []  # the restart forgot "before crash"
    fired = [e for e in t if e.event == "timer fired"]
    assert [e.time for e in fired] == [9.0]  # the first timer died with the crash at t=3


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"delay": (3, 1)}, "0 <= lo <= hi"),
        ({"drop": 1.5}, "drop is a probability"),
    ],
)
def test_bad_faults_say_what_is_wrong(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Faults(**kwargs)


def test_unknown_node_is_named():
    net = Network(0, nodes=["A"])
    with pytest.raises(ValueError, match="unknown node 'Z'"):
        net.at(0, "Z", lambda ctx: None)


# -- explorer -------------------------------------------------------------------------------


def _counter(name: str, n: int) -> list[Step]:
    return [
        Step(f"{name}{k}", lambda s, name=name: s.__setitem__(name, s[name] + 1)) for k in range(n)
    ]


@pytest.mark.parametrize("sizes", [(1, 1), (2, 3), (3, 3, 2), (4, 2, 1, 1)])
def test_schedule_count_is_the_multinomial(sizes):
    actors = {f"a{i}": _counter(f"a{i}", n) for i, n in enumerate(sizes)}
    init = {f"a{i}": 0 for i in range(len(sizes))}
    res = explore(actors, init)
    expected = math.factorial(sum(sizes)) // math.prod(math.factorial(n) for n in sizes)
    assert res.ok and res.schedules == expected
    if expected >= 100:
        assert res.states < expected  # merging equal states pays off


def _cache_aside():
    def put(key, src):
        return lambda s: s.__setitem__(key, s[src] if src else None)

    reader = [Step("read db", put("seen", "db")), Step("set cache", put("cache", "seen"))]
    writer = [
        Step("update db", lambda s: s.__setitem__("db", 2)),
        Step("delete cache", put("cache", None)),
    ]
    return {"reader": reader, "writer": writer}, {"db": 1, "cache": None, "seen": None}


def test_explorer_finds_the_simplest_stale_cache_schedule():
    actors, init = _cache_aside()
    res = explore(
        actors,
        init,
        final=lambda s: (
            None if s["cache"] in (None, s["db"]) else f"cache {s['cache']} != db {s['db']}"
        ),
    )
    v = res.violation
    assert v is not None and res.schedules == 6
    assert v.schedule == [
        ("reader", "read db"),
        ("writer", "update db"),
        ("writer", "delete cache"),
        ("reader", "set cache"),
    ]
    assert v.context_switches == 2
    assert v.message == "cache 1 != db 2"
    assert [e.event for e in v.trace] == [label for _, label in v.schedule]
    states, trace = replay(actors, init, [a for a, _ in v.schedule])
    assert states[-1]["cache"] == 1 and trace.rows() == v.trace.rows()


def test_invariant_violation_stops_at_the_shortest_prefix():
    actors = {"a": _counter("a", 3), "b": _counter("b", 3)}
    res = explore(
        actors, {"a": 0, "b": 0}, invariant=lambda s: "b ran twice" if s["b"] >= 2 else None
    )
    assert res.violation.schedule == [("b", "b0"), ("b", "b1")]


def test_deadlock_is_reported():
    def lock(name):
        return Step(
            f"lock {name}", lambda s: s.__setitem__(name, True), enabled=lambda s: not s[name]
        )

    actors = {"t1": [lock("x"), lock("y")], "t2": [lock("y"), lock("x")]}
    res = explore(actors, {"x": False, "y": False})
    assert res.violation is not None and res.violation.message.startswith("deadlock")
    assert len(res.violation.schedule) == 2


def test_state_must_be_plain_data():
    with pytest.raises(TypeError, match="plain data"):
        freeze({"x": object()})


# -- checks ---------------------------------------------------------------------------------


def test_sweep_is_reproducible_and_shrink_minimises():
    def make(rng: random.Random) -> list[int]:
        return [rng.randrange(10) for _ in range(rng.randrange(1, 12))]

    def bad(case: list[int]) -> str | None:
        return (
            "has a 7 after a 3"
            if any(a == 3 and 7 in case[i:] for i, a in enumerate(case))
            else None
        )

    first = sweep(500, 42, make, bad)
    assert first is not None and first == sweep(500, 42, make, bad)
    case, msg, case_seed = first
    assert make(random.Random(case_seed)) == case

    def smaller(c):
        for i in range(len(c)):
            yield c[:i] + c[i + 1 :]

    small, _ = shrink(case, bad, smaller)
    assert small == [3, 7]


def test_call_turns_not_implemented_into_a_category():
    def stub():
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as info:
        call(stub, what="LamportClock.tick()", seed=3, schedule=["a", "b"])
    assert info.value.category == "not implemented yet"
    # Once and plainly: no seed, schedule or picture for code that does not exist yet.
    assert info.value.seed is None and not info.value.schedule and info.value.trace is None
    assert "LamportClock.tick()" in str(info.value)


def test_call_names_the_learners_exception():
    def broken():
        return {}["missing"]

    with pytest.raises(CheckFailure, match=r"raised KeyError: 'missing'"):
        call(broken, what="the handler")


def test_failure_report_has_category_seed_schedule_and_picture():
    actors, init = _cache_aside()
    v = explore(
        actors, init, final=lambda s: "stale" if s["cache"] not in (None, s["db"]) else None
    ).violation
    with pytest.raises(CheckFailure) as info:
        fail(
            "stale value left in the cache",
            "the cache keeps 1",
            seed=7,
            schedule=[f"{a}: {lbl}" for a, lbl in v.schedule],
            expected=2,
            got=1,
            trace=v.trace,
            highlight={3: "stale from here"},
        )
    text = str(info.value)
    assert text.startswith("[stale value left in the cache]")
    assert "seed: 7" in text and "shortest failing schedule (4 steps)" in text
    fig = info.value.figure()
    assert fig is not None and len(fig.axes) == 1
    plt.close(fig)


def test_same_value_checks_types():
    assert same_value([1, 2], [1, 2])
    assert not same_value([True, 2], [1, 2])
    assert not same_value((1, 2), [1, 2])
    assert not same_value(1.0, 1)
    assert same_value({"a": [1]}, {"a": [1]})


def test_timeline_draws_every_kind_of_event():
    faults = Faults(
        delay=(1, 4),
        drop=0.2,
        duplicate=0.3,
        partitions=(Partition(1, 3, (("A",), ("B", "C"))),),
        crashes=(Crash("C", 2, 5),),
    )
    trace = run_gossip(11, faults)
    kinds = {e.event for e in trace}
    assert {"send", "recv", "crash", "recover", "partition", "heal"} <= kinds
    fig = draw_timeline(trace, highlight={3: "look here"})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "look here" in texts and "crash" in texts and {"A", "B", "C"} <= set(texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="rows must be"):
        draw_timeline(trace, rows="bogus")


def test_grader_internals_used_sees_calls_aliases_and_methods():
    from gotchalab.check import grader_internals_used
    from gotchalab.trace import _describe as alias

    def honest(x):
        return sorted(x)

    def direct(x):
        import gotchalab.trace as t

        return t._describe(x)

    def aliased(x):
        return alias(x)

    class Learner:
        def method(self, x):
            return alias(x)

    assert grader_internals_used(honest) == []
    assert grader_internals_used(direct) == ["_describe"]
    assert grader_internals_used(aliased) == ["alias (= gotchalab.trace._describe)"]
    assert grader_internals_used(Learner) == ["alias (= gotchalab.trace._describe)"]


def test_a_failure_inside_a_sweep_names_the_seed_the_learner_passed():
    def broken(_case):
        raise KeyError("x")

    with pytest.raises(CheckFailure) as info:
        sweep(10, 5, lambda rng: rng.random(), lambda case: call(broken, case, what="f(case)"))
    assert info.value.category == "your code raised an exception"
    # The sweep's own seed, which the learner can pass back to the visible call, never a
    # derived per-case seed that no call accepts.
    assert info.value.seed == 5
