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
            holds[actor] = tx[actor][-1] if tx.get(actor) else db
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
                db = writes[-1]
        elif action == "rollback":
            tx.pop(actor)
        elif action == "set_cache":
            cache = holds[actor]
        elif action == "delete_cache" and bug != "ignores deletes":
            cache = None
        elif action == "replicate":
            replica = db
        now = cache is not None and cache != db
        if now and (not prev or bug == "every stale step"):
            out.append(i + 1 if bug == "off by one" else i)
        prev = now
    return out


def draw_marked(schedule, *, shift: int = 0, mark: bool = True, extra: bool = False):
    """A correct draw_race (shift/mark/extra inject mistakes)."""
    marks = {i + shift: "stale!" for i in stale_moments_by_replay(schedule)} if mark else {}
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
    assert "800 cases" in out


@pytest.mark.parametrize("bug", ["off by one", "ignores deletes", "every stale step"])
def test_check_stale_moments_rejects_classic_mistakes(bug):
    with pytest.raises(CheckFailure) as err:
        check_stale_moments(lambda s: stale_moments_by_replay(s, bug=bug), seed=3, n=800)
    assert err.value.category == "wrong stale moments"
    # shrunk: dropping any one step leaves a schedule that is invalid or no longer fails
    case = [tuple(line.split(": ", 1)[1].split(" ")) for line in err.value.schedule]
    for i in range(len(case)):
        smaller = case[:i] + case[i + 1 :]
        try:
            validate_schedule(smaller)
        except ValueError:
            continue
        assert stale_moments_by_replay(smaller, bug=bug) == caching._truth_stale_moments(smaller)
    assert "expected:" in str(err.value) and "got:" in str(err.value)


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


# -- grader: draw_race --------------------------------------------------------------------------


def test_check_draw_race_accepts_a_marked_timeline(capsys):
    before = set(plt.get_fignums())  # other tests may have left figures open
    check_draw_race(draw_marked, seed=5, n=6)
    assert "6 cases" in capsys.readouterr().out
    assert set(plt.get_fignums()) <= before  # the checker closes what it drew


@pytest.mark.parametrize(
    ("wrong", "category"),
    [
        (lambda s: draw_marked(s, mark=False), "stale moment not marked"),
        (lambda s: draw_marked(s, shift=1), "stale moment not marked"),
        (lambda s: draw_marked(s, extra=True), "stale marked where it is not"),
        (lambda s: plt.subplots()[0], "no lane per actor"),
        (lambda s: "a picture", "not a figure"),
    ],
)
def test_check_draw_race_rejects_wrong_pictures(wrong, category):
    with pytest.raises(CheckFailure) as err:
        check_draw_race(wrong, seed=5, n=6)
    assert err.value.category == category
    plt.close("all")


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
