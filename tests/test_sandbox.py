"""The learner's process and the judge: only plain data crosses, identities hold, limits bite."""

from __future__ import annotations

import pytest

from gotchalab.sandbox import LearnerDied, LearnerError, Limits, Proxy, Runner

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sandbox")]


@pytest.fixture(scope="module")
def runner():
    r = Runner()
    assert r.exec_cell("learner", LEARNER) is None
    yield r
    r.close()


LEARNER = """
class Evil(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

class Box:
    def __init__(self):
        self.items = []
    def put(self, x):
        self.items.append(x)
        return x
    def plain(self):
        return [1, (2, "three"), {"k": {4.5, None}}, b"6", True]
    def evil(self):
        return Evil(3)
    def sub_list(self):
        class L(list):
            pass
        return L([1])
    def raise_value(self):
        raise ValueError("bad value")
    def raise_own(self):
        class Mine(Exception):
            pass
        raise Mine("mine")
    def raise_exit(self):
        raise SystemExit(0)
    def call_back(self, fn, *args):
        return fn(*args)
    def peek(self, obj, name):
        return getattr(obj, name)

box = Box()
"""


def test_plain_data_comes_back_by_value(runner):
    box = runner.lookup(["box"])["box"]
    got = box.plain()
    assert got == [1, (2, "three"), {"k": {4.5, None}}, b"6", True]
    assert type(got[1]) is tuple and type(got[4]) is bool


def test_anything_else_stays_a_proxy_and_is_never_compared_by_learner_code(runner):
    box = runner.lookup(["box"])["box"]
    evil = box.evil()
    assert isinstance(evil, Proxy) and type(evil) is not int
    assert evil != 3 and not (evil == 4)  # identity only: the learner's __eq__ is not called
    assert isinstance(box.sub_list(), Proxy)


def test_objects_keep_their_identity_both_ways(runner):
    box = runner.lookup(["box"])["box"]
    token = object()
    assert box.put(token) is token
    assert box.call_back(lambda b: b, box) is box


def test_exceptions_map_onto_trusted_classes_only(runner):
    box = runner.lookup(["box"])["box"]
    with pytest.raises(ValueError, match="bad value"):
        box.raise_value()
    with pytest.raises(LearnerError, match="Mine: mine"):
        box.raise_own()
    with pytest.raises(LearnerError):  # never a SystemExit in the judge
        box.raise_exit()


def test_learner_code_cannot_reach_the_judges_internals(runner):
    box = runner.lookup(["box"])["box"]

    def callback():
        return 1

    for name in ("__globals__", "__code__", "__closure__", "__dict__", "_private"):
        with pytest.raises((AttributeError, LearnerError)):
            box.peek(callback, name)


def test_memory_and_process_limits(tmp_path):
    r = Runner(limits=Limits(memory=1 << 30))
    try:
        err = r.exec_cell("bomb", "x = bytearray(2 << 30)")
        assert err and "MemoryError" in err
        r.exec_cell("exit", "import os\nos._exit(0)")
    except LearnerDied:
        pass
    finally:
        r.close()
    assert r.proc.poll() is not None


def test_map_calls_makes_one_request_and_keeps_types(runner):
    from gotchalab.check import map_calls

    runner.exec_cell("m", "def part(key, n):\n    return sum(key.encode()) % n\n")
    part = runner.lookup(["part"])["part"]
    args = [(f"k{i}", 7) for i in range(500)]
    assert map_calls(part, args) == [sum(k.encode()) % n for k, n in args]
    runner.exec_cell("m2", "def boom(x):\n    raise KeyError(x)\n")
    with pytest.raises(KeyError):
        map_calls(runner.lookup(["boom"])["boom"], [(1,)])
