"""Chapter 06 (stale cache): the models, and proof that the graders accept right and reject wrong.

Correct and wrong learner implementations are written here, independently of the library; each
grader must pass the right ones and fail each wrong one with the intended category.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from gotchalab import caching  # noqa: E402
from gotchalab.caching import (  # noqa: E402
    ACTIONS,
    SCENARIOS,
    Scenario,
    check_draw_race,
    check_stale_moments,
    check_strategy,
    explore_strategy,
    narrate,
    random_schedule,
    schedule_trace,
    ttl_experiment,
    validate_schedule,
    violation_report,
)
from gotchalab.check import CheckFailure  # noqa: E402
from gotchalab.timeline import draw_timeline  # noqa: E402

CLASSIC = [
    ("reader", "read_cache"),
    ("reader", "read_db"),
    ("writer", "write_db"),
    ("writer", "delete_cache"),
    ("reader", "set_cache"),
]


# -- learner-side implementations written for the tests ------------------------------------------


def stale_moments_by_replay(schedule, *, bug: str = ""):
    """A correct stale_moments (unless ``bug`` names a classic mistake)."""
    db = replica = fresh = 0
    cache = None
    tx: dict[str, list[int]] = {}  # actor -> its uncommitted writes
    holds: dict[str, int] = {}
    out: list[int] = []
    prev = False
    for i, (actor, action) in enumerate(schedule):
        if action == "read_cache" and cache is not None:
            holds[actor] = cache
        elif action == "read_db":
            own = tx.get(actor) and bug != "tx read committed"
            holds[actor] = tx[actor][-1] if own else db
        elif action == "read_replica":
            holds[actor] = replica
        elif action == "write_db":
            fresh += 1
            holds[actor] = fresh
            if actor in tx:
                tx[actor].append(fresh)
            else:
                db = fresh
        elif action == "begin":
            tx[actor] = []
        elif action == "commit":
            writes = tx.pop(actor)
            if writes and bug != "commit ignored":
                db = writes[0] if bug == "commit first" else writes[-1]
        elif action == "rollback":
            undone = tx.pop(actor)
            if undone and bug == "rollback commits":
                db = undone[-1]
            if undone and bug == "rollback reuses":
                fresh -= len(undone)
        elif action == "set_cache":
            cache = holds[actor]
        elif action == "delete_cache" and bug != "ignores deletes":
            cache = None
        elif action == "replicate":
            pending = [w[-1] for w in tx.values() if w]
            replica = pending[-1] if pending and bug == "replicate pending" else db
        now = cache is not None and cache != db
        if now and (not prev or bug == "every stale step"):
            out.append(i + 1 if bug == "off by one" else i)
        prev = now
    return out


def draw_marked(schedule, moments=None, *, shift: int = 0, mark: bool = True, extra: bool = False):
    """A correct draw_race (shift/mark/extra inject mistakes)."""
    if moments is None:
        moments = stale_moments_by_replay(schedule)
    marks = {i + shift: "stale!" for i in moments} if mark else {}
    marks = {i: m for i, m in marks.items() if i < len(schedule)}
    if extra:
        marks[0] = "stale?"
    return draw_timeline(schedule_trace(schedule), highlight=marks)


def reads(layers, fill):
    return [f"get {x}" for x in layers] + ["read primary"] + [f"{fill} {x}" for x in layers[::-1]]


class TombstoneStrategy:
    """Correct: delete after commit (tombstone) and fill with set_if_newer."""

    def read(self, layers):
        return reads(layers, "set_if_newer")

    def write(self, layers):
        return ["write primary", "commit"] + [f"delete {x}" for x in layers]


class VersionedUpsert:
    """Correct, differently: the writer stores its version with set_if_newer after commit."""

    def read(self, layers):
        return reads(layers, "set_if_newer")

    def write(self, layers):
        return ["write primary", "commit"] + [f"set_if_newer {x}" for x in layers[::-1]]


class CacheAside:
    """Wrong: plain cache-aside, blind set on a miss."""

    def read(self, layers):
        return reads(layers, "set")

    def write(self, layers):
        return ["write primary", "commit"] + [f"delete {x}" for x in layers]


class ReplicaReads(TombstoneStrategy):
    """Wrong only under replica lag: a miss reads the replica."""

    def read(self, layers):
        return (
            [f"get {x}" for x in layers]
            + ["read replica"]
            + [f"set_if_newer {x}" for x in layers[::-1]]
        )


class SetBeforeCommit(TombstoneStrategy):
    """Wrong: the writer fills the cache inside its transaction."""

    def write(self, layers):
        return ["write primary"] + [f"set_if_newer {x}" for x in layers] + ["commit"]


class LocalOnly(TombstoneStrategy):
    """Wrong only with two layers: the writer invalidates the nearest layer only."""

    def write(self, layers):
        return ["write primary", "commit", f"delete {layers[0]}"]


class NotYet:
    def read(self, layers):
        raise NotImplementedError

    def write(self, layers):
        raise NotImplementedError


class Gibberish(TombstoneStrategy):
    def read(self, layers):
        return ["get redis", "read primary"]


# -- the schedule model ---------------------------------------------------------------------------


def test_classic_race_goes_stale_at_the_reader_set():
    assert caching._truth_stale_moments(CLASSIC) == [4]
    assert stale_moments_by_replay(CLASSIC) == [4]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # the writer sets its value before the commit; the rollback makes it a value never committed
        ([("w", "begin"), ("w", "write_db"), ("w", "set_cache"), ("w", "rollback")], [2]),
        # committed later: stale (uncommitted) at the set, fresh again at the commit
        ([("w", "begin"), ("w", "write_db"), ("w", "set_cache"), ("w", "commit")], [2]),
        # a lagging replica refills the cache with the old value after the invalidation
        (
            [("w", "write_db"), ("w", "delete_cache"), ("r", "read_replica"), ("r", "set_cache")],
            [3],
        ),
        # a warm cache goes stale at the write itself, and the delete fixes it
        ([("r", "read_db"), ("r", "set_cache"), ("w", "write_db"), ("w", "delete_cache")], [2]),
    ],
)
def test_model_semantics_on_hand_made_schedules(schedule, expected):
    assert caching._truth_stale_moments(schedule) == expected


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("nope", "list of (actor, action)"),
        ([("r", "read_cache", 1)], "pair"),
        ([("r", "fly")], "unknown action 'fly'"),
        ([("w", "commit")], "no open transaction"),
        ([("w", "begin"), ("w", "begin")], "while one is open"),
        ([("r", "set_cache")], "holds no value"),
    ],
)
def test_validate_schedule_says_what_is_wrong(bad, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        validate_schedule(bad)


def test_random_schedules_are_valid_and_seeded():
    for k in range(300):
        s = random_schedule(random.Random(k))
        assert validate_schedule(s) == s
        assert s == random_schedule(random.Random(k))
    assert random_schedule(random.Random(1)) != random_schedule(random.Random(2))
    basic = {
        a
        for k in range(300)
        for _, a in random_schedule(random.Random(k), actions=("read_db", "set_cache", "write_db"))
    }
    assert basic == {"read_db", "set_cache", "write_db"}


def test_the_library_exports_no_answer():
    assert not hasattr(caching, "stale_moments")
    assert not hasattr(caching, "draw_race")
    assert all(not name.startswith("_") for name in caching.__all__)
    # the public trace of a schedule carries the steps only, no verdict
    tr = schedule_trace(CLASSIC)
    assert [e.time for e in tr] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(set(e.detail) == {"step", "text"} for e in tr)


# -- grader: stale_moments -----------------------------------------------------------------------


def test_check_stale_moments_accepts_a_correct_implementation(capsys):
    check_stale_moments(stale_moments_by_replay, seed=3, n=800)
    check_stale_moments(stale_moments_by_replay, seed=4, n=800, actions=tuple(ACTIONS))
    out = capsys.readouterr().out
    basic, full = (len(caching._scripted(a)) for a in (caching.BASIC_ACTIONS, tuple(ACTIONS)))
    assert f"{800 + basic} cases" in out and f"{800 + full} cases" in out


@pytest.mark.parametrize("bug", ["off by one", "ignores deletes", "every stale step"])
def test_check_stale_moments_rejects_classic_mistakes(bug):
    with pytest.raises(CheckFailure) as err:
        check_stale_moments(lambda s: stale_moments_by_replay(s, bug=bug), seed=3, n=800)
    assert err.value.category == "wrong stale moments"
    assert "expected:" in str(err.value) and "got:" in str(err.value)


SCRIPTED = [s for _, s in caching._SCRIPTED_BASIC + caching._SCRIPTED_FULL]


@pytest.mark.parametrize("bug", ["off by one", "ignores deletes", "every stale step"])
def test_a_random_failure_is_shrunk(bug):
    def off_script(schedule):  # right on the scripted schedules: only the sweep can catch it
        return stale_moments_by_replay(schedule, bug="" if list(schedule) in SCRIPTED else bug)

    with pytest.raises(CheckFailure) as err:
        check_stale_moments(off_script, seed=3, n=800)
    assert err.value.category == "wrong stale moments"
    # shrunk: dropping any one step leaves a schedule that is invalid or no longer fails
    lines = err.value.schedule.splitlines()
    case = [tuple(line.split(": ", 1)[1].rsplit(" ", 1)) for line in lines]
    assert case == eval(err.value.replay[len("stale_moments") :])  # noqa: S307 - our own repr
    for i in range(len(case)):
        smaller = case[:i] + case[i + 1 :]
        try:
            validate_schedule(smaller)
        except ValueError:
            continue
        assert off_script(smaller) == caching._truth_stale_moments(smaller)


def test_transactions_are_only_caught_by_the_full_vocabulary():
    wrong = lambda s: stale_moments_by_replay(s, bug="commit ignored")  # noqa: E731
    check_stale_moments(wrong, seed=3, n=500)  # no transactions in the basic vocabulary
    with pytest.raises(CheckFailure):
        check_stale_moments(wrong, seed=3, n=500, actions=tuple(ACTIONS))


def test_check_stale_moments_compares_by_type():
    with pytest.raises(CheckFailure):
        check_stale_moments(lambda s: tuple(stale_moments_by_replay(s)), seed=3, n=200)
    with pytest.raises(CheckFailure, match="not implemented yet"):
        check_stale_moments(lambda s: (_ for _ in ()).throw(NotImplementedError()), seed=3, n=5)


# Hand-worked answers for the scripted schedules, in their order (independent of the model).
SCRIPTED_ANSWERS = [
    [4], [2, 4], [], [3], [2, 5], [2, 5, 9], [2, 4], [], [3, 6], [2, 4, 6, 9, 14],
    [2], [2], [2], [3], [4], [4], [], [2], [3], [4], [5], [4, 7], [7],
]  # fmt: skip


def test_scripted_schedules_are_valid_and_answered_by_hand():
    scripted = caching._SCRIPTED_BASIC + caching._SCRIPTED_FULL
    assert len(scripted) == len(SCRIPTED_ANSWERS)
    for (rule, schedule), answer in zip(scripted, SCRIPTED_ANSWERS, strict=True):
        assert validate_schedule(schedule) == schedule, rule
        assert caching._truth_stale_moments(schedule) == answer, rule
        assert stale_moments_by_replay(schedule) == answer, rule
    # the basic cell's scripted schedules use only the basic actions; the full cell uses them all
    assert {a for _, s in caching._scripted(caching.BASIC_ACTIONS) for _, a in s} == set(
        caching.BASIC_ACTIONS
    )
    assert {a for _, s in caching._scripted(tuple(ACTIONS)) for _, a in s} == set(ACTIONS)


def test_a_read_cache_hit_gives_a_value_to_set():
    hit = [("r", "read_db"), ("r", "set_cache"), ("x", "read_cache"), ("x", "set_cache")]
    assert validate_schedule(hit) == hit
    with pytest.raises(ValueError, match="holds no value"):
        validate_schedule([("x", "read_cache"), ("x", "set_cache")])
    with pytest.raises(ValueError, match="holds no value"):
        validate_schedule(hit[:2] + [("r", "delete_cache")] + hit[2:])


@pytest.mark.parametrize(
    "bug",
    [
        "commit first",
        "rollback commits",
        "rollback reuses",
        "tx read committed",
        "replicate pending",
        "every stale step",
    ],
)
def test_each_rule_is_reached_by_a_scripted_schedule(bug):
    # n=1: a single random case, so the scripted schedules alone must catch the mistake
    with pytest.raises(CheckFailure) as err:
        check_stale_moments(
            lambda s: stale_moments_by_replay(s, bug=bug), seed=0, n=1, actions=tuple(ACTIONS)
        )
    assert err.value.category == "wrong stale moments" and "rule:" in err.value.what
    assert err.value.seed is None  # scripted: no seed, the replay call is exact
    assert err.value.replay.startswith("stale_moments([(")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda s: tuple(stale_moments_by_replay(s)), "must return a plain list, got tuple"),
        (lambda s: stale_moments_by_replay(s)[::-1], "increasing order, each once"),
        (lambda s: sorted(stale_moments_by_replay(s) * 2), "increasing order, each once"),
        (lambda s: [True for _ in stale_moments_by_replay(s)], "items must be int"),
        (lambda s: [float(i) for i in stale_moments_by_replay(s)], "items must be int"),
    ],
)
def test_check_stale_moments_states_the_exact_shape(wrong, fragment):
    with pytest.raises(CheckFailure, match=re.escape(fragment)):
        check_stale_moments(wrong, seed=0, n=50, actions=tuple(ACTIONS))


def test_stub_fails_once_without_a_schedule_or_seed():
    def stub(schedule):
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as err:
        check_stale_moments(stub, seed=5, n=100)
    e = err.value
    assert e.category == "not implemented yet"
    assert (e.seed, e.schedule, e.trace, e.replay) == (None, None, None, None)


def test_a_random_failure_prints_the_visible_seed_and_an_exact_replay():
    scripted = [s for _, s in caching._SCRIPTED_BASIC + caching._SCRIPTED_FULL]

    def wrong_off_script(schedule):  # right on every scripted schedule, wrong elsewhere
        right = stale_moments_by_replay(schedule)
        return (
            right
            if list(schedule) in scripted
            else stale_moments_by_replay(schedule, bug="off by one")
        )

    with pytest.raises(CheckFailure) as err:
        check_stale_moments(wrong_off_script, seed=41, n=500)
    e = err.value
    assert e.seed == 41 and "seed: 41" in str(e)
    assert "seed=41" in e.what
    schedule = eval(e.replay[len("stale_moments") :])  # noqa: S307 - our own repr
    assert (
        wrong_off_script(schedule) == e.got != e.expected == caching._truth_stale_moments(schedule)
    )
    assert e.schedule.splitlines()[0].startswith("step 0: ")


def test_an_exception_is_shrunk_and_reported_with_its_replay():
    def crashes_on_replicate(schedule):
        if any(a == "replicate" for _, a in schedule):
            raise KeyError("replica")
        return stale_moments_by_replay(schedule)

    with pytest.raises(CheckFailure) as err:
        check_stale_moments(crashes_on_replicate, seed=2, n=200, actions=tuple(ACTIONS))
    e = err.value
    assert e.category == "your code raised an exception" and "KeyError" in e.what
    assert "replicate" in e.replay


# -- grader: draw_race --------------------------------------------------------------------------


def test_check_draw_race_accepts_a_marked_timeline(capsys):
    before = set(plt.get_fignums())  # other tests may have left figures open
    check_draw_race(draw_marked, seed=5, n=6)
    assert f"{6 + len(caching._DRAW_SCRIPTED)} cases" in capsys.readouterr().out
    assert set(plt.get_fignums()) <= before  # the checker closes what it drew


@pytest.mark.parametrize(
    ("wrong", "category"),
    [
        (lambda s, m: draw_marked(s, m, mark=False), "stale moment not marked"),
        (lambda s, m: draw_marked(s, m, shift=1), "stale moment not marked"),
        (lambda s, m: draw_marked(s, m, extra=True), "stale marked where it is not"),
        (lambda s, m: plt.subplots()[0], "no lane per actor"),
        (lambda s, m: "a picture", "not a figure"),
        (lambda s, m: draw_marked(s, m[:1]), "stale moment not marked"),
        (lambda s, m: legend_says_stale(draw_marked(s, m)), "stale marked where it is not"),
        (lambda s, m: draw_marked(relabel(s), m), "no lane per actor"),
    ],
)
def test_check_draw_race_rejects_wrong_pictures(wrong, category):
    with pytest.raises(CheckFailure) as err:
        check_draw_race(wrong, seed=5, n=6)
    assert err.value.category == category
    plt.close("all")


def relabel(schedule):
    """The same schedule with actors renamed lane0, lane1, ...: lanes not labelled by name."""
    names = {a: f"lane{k}" for k, a in enumerate(dict.fromkeys(a for a, _ in schedule))}
    return [(names[a], b) for a, b in schedule]


def legend_says_stale(fig):
    ax = fig.axes[0]
    ax.text(0.98, 0.02, "red = stale", transform=ax.transAxes)
    return fig


def test_check_draw_race_passes_the_true_moments_and_reports_the_exact_call(capsys):
    seen = []

    def record(schedule, moments):
        seen.append((list(schedule), moments))
        return draw_marked(schedule, moments)

    check_draw_race(record, seed=7, n=6)
    assert len(seen) == len(caching._DRAW_SCRIPTED) + 6
    assert all(type(m) is list and m == caching._truth_stale_moments(s) for s, m in seen)
    assert {len(m) for _, m in seen} >= {0, 1, 2}
    with pytest.raises(CheckFailure) as err:
        check_draw_race(lambda s, m: draw_marked(s, m, shift=1), seed=7, n=6)
    e = err.value
    assert e.seed == 7 and e.replay.startswith("draw_race([(")
    schedule, moments = eval(e.replay[len("draw_race") :])  # noqa: S307 - our own repr
    assert moments == caching._truth_stale_moments(schedule)


def test_check_draw_race_stub_and_exception_verdicts():
    def stub(schedule, moments=None):
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as err:
        check_draw_race(stub, seed=3, n=3)
    e = err.value
    assert e.category == "not implemented yet"
    assert (e.seed, e.schedule, e.trace, e.replay) == (None, None, None, None)

    def broken(schedule, moments=None):
        return {}["lanes"]

    with pytest.raises(CheckFailure) as err:
        check_draw_race(broken, seed=3, n=3)
    assert err.value.category == "your code raised an exception"
    assert "KeyError" in err.value.what and err.value.seed == 3
    assert err.value.replay.startswith("draw_race([(")


def _plain(x):
    if type(x) in (list, tuple, set):
        return all(_plain(v) for v in x)
    if type(x) is dict:
        return all(type(k) is str and _plain(v) for k, v in x.items())
    return x is None or type(x) in (bool, int, float, str)


def test_race_figure_exporter_returns_plain_data_and_closes_the_figure():
    from gotchalab.check import export

    fig = draw_marked(CLASSIC, [4])
    data = export(fig, "race_figure")
    assert _plain(data) and data["figure"] is True
    assert {"reader", "writer", "stale!"} <= set(data["texts"])
    assert [t["y"] for t in data["axes_texts"] if "stale" in t["text"]] == [5.0]
    assert data["lanes"]["reader"] != data["lanes"]["writer"]
    assert not plt.fignum_exists(fig.number)
    assert export("a picture", "race_figure") == {
        "figure": False,
        "type": "str",
        "repr": "'a picture'",
    }


# -- the strategy explorer -----------------------------------------------------------------------


def test_schedule_counts_match_combinatorics():
    # Without lock waits every interleaving is possible: multinomial(3, 3) and multinomial(3, 3, 3).
    one = explore_strategy(TombstoneStrategy(), Scenario("t"))
    two = explore_strategy(TombstoneStrategy(), Scenario("t", readers=("r1", "r2")))
    assert (one.schedules, two.schedules) == (math.comb(6, 3), math.comb(9, 3) * math.comb(6, 3))
    assert one.ok and two.ok


def test_exploration_is_deterministic():
    sc = Scenario("t", writers=("w1", "w2"))
    a, b = explore_strategy(CacheAside(), sc), explore_strategy(CacheAside(), sc)
    assert (a.schedules, a.states) == (b.schedules, b.states)
    assert a.violation.schedule == b.violation.schedule
    assert narrate(a.violation.trace) == narrate(b.violation.trace)


def test_classic_race_is_the_simplest_violation():
    res = explore_strategy(CacheAside(), Scenario("t"))
    rep = violation_report(Scenario("t"), res)
    assert rep["category"] == "stale value left in the cache"
    assert [line.split(":")[0] for line in rep["schedule"]] == ["r1", "r1", "w1", "w1", "w1", "r1"]
    assert rep["highlight"] == {5: "cache goes stale here"}


@pytest.mark.parametrize("family", list(SCENARIOS))
@pytest.mark.parametrize("strategy", [TombstoneStrategy, VersionedUpsert])
def test_check_strategy_accepts_correct_strategies(strategy, family, capsys):
    check_strategy(strategy, family)
    check_strategy(strategy, family, big=True)
    assert "no failure" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("strategy", "family", "category"),
    [
        (CacheAside, "basic race", "stale value left in the cache"),
        (
            SetBeforeCommit,
            "populated before commit",
            "read returned a value that was never committed",
        ),
        (ReplicaReads, "replica lag", "read returned a value older than a committed write"),
        (LocalOnly, "two layers", "stale value left in the cache"),
    ],
)
def test_check_strategy_rejects_broken_strategies(strategy, family, category):
    with pytest.raises(CheckFailure) as err:
        check_strategy(strategy, family)
    assert err.value.category == category
    assert err.value.trace is not None and len(err.value.trace) == len(err.value.schedule)
    assert err.value.highlight


def test_scenario_specific_mistakes_pass_elsewhere():
    check_strategy(ReplicaReads, "basic race")  # the replica is in sync without lag
    check_strategy(LocalOnly, "basic race")  # one layer: the nearest is the only one


def test_check_strategy_reports_unknown_operations_and_stubs():
    with pytest.raises(CheckFailure, match="unknown operation 'get redis'"):
        check_strategy(Gibberish, "basic race")
    with pytest.raises(CheckFailure, match="not implemented yet"):
        check_strategy(NotYet, "basic race")


def test_scenario_rejects_bad_configuration():
    with pytest.raises(ValueError, match="not a cache layer"):
        Scenario("x", layers=("redis",))
    with pytest.raises(ValueError, match="rollback names"):
        Scenario("x", rollback=frozenset({"w9"}))
    assert dataclasses.replace(Scenario("x"), ttl=True).describe().endswith("TTL expiry")


# -- TTL experiment -------------------------------------------------------------------------------


def test_ttl_experiment_is_seeded_and_trades_staleness_for_misses():
    a = ttl_experiment(1_000, seed=1, horizon=60_000)
    assert a == ttl_experiment(1_000, seed=1, horizon=60_000)
    assert a != ttl_experiment(1_000, seed=2, horizon=60_000)
    never = ttl_experiment(None, seed=1, horizon=60_000)
    short = ttl_experiment(30, seed=1, horizon=60_000)
    assert short.misses > never.misses  # expiries send reads to the database
    assert all(w >= 0 for w in never.windows + short.windows)


class NoCache:
    """Never stale, because it never caches: rejected as not using the cache."""

    def read(self, layers):
        return ["read primary"]

    def write(self, layers):
        return ["write primary", "commit"]


class Verbose(TombstoneStrategy):
    def read(self, layers):
        return ["get cache"] * 7


def test_check_strategy_requires_the_cache_to_be_used_and_small_programs():
    with pytest.raises(CheckFailure) as err:
        check_strategy(NoCache, "basic race")
    assert err.value.category == "the cache is never used"
    with pytest.raises(CheckFailure, match="at most 6"):
        check_strategy(Verbose, "basic race")


# -- evictions ------------------------------------------------------------------------------------


class ReplicaVersioned:
    """Wrong under replica lag: reads the replica, the writer upserts its version after commit."""

    def read(self, layers):
        return (
            [f"get {x}" for x in layers]
            + ["read replica"]
            + [f"set_if_newer {x}" for x in layers[::-1]]
        )

    def write(self, layers):
        return ["write primary", "commit"] + [f"set_if_newer {x}" for x in layers[::-1]]


def test_graded_families_evict_entries_except_with_two_layers():
    for family, configs in {**SCENARIOS, **caching._BIG_SCENARIOS}.items():
        evicting = [c for c in configs if c.evict]
        assert bool(evicting) == (family != "two layers"), family


def test_a_replica_read_is_caught_once_the_fresh_entry_is_evicted():
    # Without evictions the writer's upsert keeps every later read on the cache: it passes.
    for c in SCENARIOS["replica lag"]:
        if not c.evict:
            assert explore_strategy(ReplicaVersioned(), c).ok, c
    with pytest.raises(CheckFailure) as err:
        check_strategy(ReplicaVersioned, "replica lag")
    e = err.value
    assert e.category == "read returned a value older than a committed write"
    assert any(line.startswith("evict: evict cache") for line in e.schedule)
    assert "evict=True" in e.replay
    check_strategy(ReplicaVersioned, "basic race")  # no lag: the replica is the primary


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario("e", readers=("r1", "r2"), evict=True),
        Scenario("e", readers=("r1", "r2"), warm=True, evict=True),
        Scenario("e", writers=("w1", "w2"), evict=True),
        Scenario("e", readers=("r1", "r2"), writers=("w1", "w2"), evict=True),
        Scenario("e", readers=("r1", "r2"), lag=True, evict=True),
    ],
)
@pytest.mark.parametrize("strategy", [TombstoneStrategy, VersionedUpsert])
def test_an_entry_outlives_the_operations_running_when_it_was_stored(strategy, scenario):
    # Unbounded evictions would break both: a fresh value (or a tombstone) evicted under a slow
    # reader (or a slow writer) lets that one's older value in. Pinned entries keep them safe.
    res = explore_strategy(strategy(), scenario)
    assert res.ok, res.violation and res.violation.message


def test_unbounded_expiry_breaks_even_the_tombstone_strategy():
    # the book's TTL actor may fire at any moment: it is not graded, and this is why
    res = explore_strategy(TombstoneStrategy(), Scenario("t", ttl=True))
    assert not res.ok and res.violation.message.startswith("stale value left")


def test_eviction_is_described_and_its_actor_name_reserved():
    assert Scenario("x", evict=True).describe().endswith("evictions")
    with pytest.raises(ValueError, match="replica/cdc/ttl/evict"):
        Scenario("x", readers=("evict",))


def test_marks_count_where_their_time_coordinate_is_in_data_units():
    from gotchalab.check import export

    fig, ax = plt.subplots()
    ax.set_ylim(8, -0.4)
    ax.text(0.5, 3, "stale data")
    ax.text(0.02, 5, "stale row", transform=ax.get_yaxis_transform())  # x axes, y data
    ax.text(0.9, 0.1, "stale legend", transform=ax.transAxes)
    ax.annotate("stale a", xy=(1, 2), xytext=(5, 5), textcoords="offset points")
    ax.annotate("stale b", xy=(1, 6), xycoords=ax.transData)
    ax.annotate("stale c", xy=(0.1, 7), xycoords=("axes fraction", "data"))
    ax.annotate("stale d", xy=(0.1, 0.5), xycoords="axes fraction")
    got = {t["text"]: t["y"] for t in export(fig, "race_figure")["axes_texts"]}
    assert got == {
        "stale data": 3.0,
        "stale row": 5.0,
        "stale legend": None,
        "stale a": 2.0,
        "stale b": 6.0,
        "stale c": 7.0,
        "stale d": None,
    }


def test_draw_race_without_moments_marks_the_learners_own_stale_moments():
    def no_default(schedule, moments=None):
        return draw_marked(schedule, [] if moments is None else moments)

    check_draw_race(no_default, seed=1, n=3)  # the default path is checked only when given
    with pytest.raises(CheckFailure) as err:
        check_draw_race(no_default, seed=1, n=3, stale_moments=stale_moments_by_replay)
    assert err.value.category == "stale moment not marked"
    assert "no moments given" in err.value.what
    assert err.value.replay.startswith("draw_race([(") and err.value.replay.endswith(")])")

    # a wrong stale_moments costs nothing here: drawn consistently, or skipped if undrawable
    def wrong(schedule):
        return stale_moments_by_replay(schedule, bug="every stale step")

    def draws_wrong(schedule, moments=None):
        return draw_marked(schedule, wrong(schedule) if moments is None else moments)

    check_draw_race(draws_wrong, seed=1, n=3, stale_moments=wrong)
    for broken in (
        lambda s: stale_moments_by_replay(s, bug="off by one"),  # past the last step
        lambda s: (_ for _ in ()).throw(NotImplementedError()),
        lambda s: "[4]",
    ):
        check_draw_race(draw_marked, seed=1, n=3, stale_moments=broken)
