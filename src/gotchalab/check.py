"""Helpers the graders share: hunt for a failing case, shrink it, report it in plain words.

A grader (``check_*`` in a chapter module) is a function of the learner's class or function. It
builds many seeded cases, runs the learner's code on each, and compares the results with ground
truth derived from the trace or from an exhaustive model. On the first failure it shrinks the case
to a small one that still fails and raises :class:`CheckFailure`, an ``AssertionError`` that says:

* a plain-language **category** ("delivered past a gap", "stale value left in the cache"),
* the **seed** and how to replay the case,
* the **shortest failing schedule**, one numbered line per step,
* what was **expected** and what the learner's code **did**,

and shows a **picture** of the schedule (a timeline) when running inside Jupyter.

Why the search and the shrinker are hand-written: graded cells must answer in under two seconds
while covering thousands of cases. Hypothesis spends about 1.6 ms generating each example on this
machine (measured with ``hypothesis.find`` on a three-field strategy: 1,000 examples in 1.6 s), so
it can't sweep thousands of seeds per cell, and it can't shrink an example it did not generate.
A plain seeded ``random.Random`` sweep plus greedy shrinking over a case's own "smaller" moves is
simple and fast. Hypothesis still checks the library's own properties in ``tests/``.

Checkers keep no state between calls, so the same check can run in a fresh process given only the
learner's source (see :mod:`gotchalab.grading`).
"""

from __future__ import annotations

import contextvars
import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

from .trace import Trace

__all__ = [
    "CheckFailure",
    "fail",
    "call",
    "sweep",
    "shrink",
    "passed",
    "show",
    "same_value",
    "grader_internals_used",
]

C = TypeVar("C")


class CheckFailure(AssertionError):
    """A grader's verdict: a category, the seed, the shortest failing schedule and a picture."""

    def __init__(
        self,
        category: str,
        what: str,
        *,
        seed: int | None = None,
        schedule: Sequence[str] | str | None = None,
        expected: Any = None,
        got: Any = None,
        trace: Trace | None = None,
        highlight: dict[int, str] | None = None,
        replay: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.category = category
        self.what = what
        self.seed = seed
        self.schedule = schedule
        self.expected = expected
        self.got = got
        self.trace = trace
        self.highlight = highlight or {}
        self.replay = replay
        self.hint = hint
        super().__init__(self.report())

    def report(self) -> str:
        """The failure as text: category first, then seed, schedule, expected/got, hint."""
        lines = [f"[{self.category}] {self.what}"]
        if self.seed is not None:
            lines.append(f"seed: {self.seed}")
        if self.schedule:
            steps = (
                self.schedule.splitlines()
                if isinstance(self.schedule, str)
                else [f"{i:>3}. {s}" for i, s in enumerate(self.schedule, 1)]
            )
            lines.append(f"shortest failing schedule ({len(steps)} steps):")
            lines.extend("  " + s for s in steps)
        if self.expected is not None or self.got is not None:
            lines.append(f"expected: {self.expected!r}")
            lines.append(f"got:      {self.got!r}")
        if self.replay:
            lines.append(f"replay it: {self.replay}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def figure(self):
        """A timeline of the failing schedule (None if the failure has no trace)."""
        if self.trace is None or len(self.trace) == 0:
            return None
        from .timeline import draw_timeline

        return draw_timeline(
            self.trace,
            highlight=self.highlight,
            title=self.category + ("" if self.seed is None else f" — seed {self.seed}"),
        )


def show(fig) -> None:
    """Display a figure in Jupyter (no-op elsewhere), then free it.

    The figure is sent as PNG bytes rather than as the Figure object, so it shows whatever the
    matplotlib backend is (under a non-inline backend such as Agg, IPython has no PNG formatter for
    figures and would show only ``<Figure size ...>``).
    """
    if fig is None:
        return
    try:
        from IPython import get_ipython
        from IPython.display import Image, display

        if get_ipython() is not None:
            import io

            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            display(Image(buf.getvalue()))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


# The seed of the sweep being run, so that a failure raised from inside a case (learner code that
# raises, say) names the seed the learner can pass back, even where the check did not pass it.
_CASE_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar("case_seed", default=None)


def fail(category: str, what: str, **kw: Any) -> NoReturn:
    """Raise :class:`CheckFailure`, showing its timeline first when running in Jupyter.

    Without an explicit ``seed``, the seed of the sweep case being run (if any) is reported.
    """
    if kw.get("seed") is None and _CASE_SEED.get() is not None:
        kw["seed"] = _CASE_SEED.get()
    err = CheckFailure(category, what, **kw)
    if _in_ipython():
        # The verdict first: one line above the picture, the full report in the error below.
        print(f"✗ [{category}] {what.splitlines()[0] if what else ''}", flush=True)
    try:
        show(err.figure())
    except Exception as draw_error:  # a picture must never hide the verdict
        err.args = (err.args[0] + f"\n(could not draw the timeline: {draw_error})",)
    raise err


def call(fn: Callable[..., Any], *args: Any, what: str, **kw: Any) -> Any:
    """Call learner code; turn an exception into a clear :class:`CheckFailure`.

    ``NotImplementedError`` becomes "not implemented yet"; any other exception names its type,
    message and the line of the learner's code it came from. ``kw`` is passed to :func:`fail`
    (seed, schedule, trace, ...) so the report shows the case that triggered it.
    """
    try:
        return fn(*args)
    except NotImplementedError:
        # Once, plainly: no schedule, picture or seed for code that does not exist yet.
        raise CheckFailure(
            "not implemented yet",
            f"{what} raised NotImplementedError: replace the "
            "`raise NotImplementedError()` line with your code",
        ) from None
    except CheckFailure:
        raise
    except Exception as exc:
        where = _learner_line(exc)
        fail(
            "your code raised an exception",
            f"{what} raised {type(exc).__name__}: {exc}{where}",
            **kw,
        )


def _learner_line(exc: BaseException) -> str:
    """`` (line N: 'code')`` of the learner's line an exception came from, or ``""``.

    An exception raised in the learner's process (authoritative grade) carries the learner's
    frames as data; locally the traceback is read, skipping library frames.
    """
    frames = getattr(exc, "__gotchalab_frames__", None)
    if frames is None:
        frames = [
            (f.filename, f.lineno, f.line or "")
            for f in traceback.extract_tb(exc.__traceback__)
            if "gotchalab" not in f.filename.replace("\\", "/").split("/")
        ]
    if not frames:
        return ""
    _, lineno, line = frames[-1]
    return f" (line {lineno}: {line!r})" if line else f" (line {lineno})"


def _error_text(exc: BaseException) -> str:
    """A graded cell's failure as the learner should read it: the verdict first, no frames."""
    if isinstance(exc, CheckFailure):
        return exc.report()
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a learner's exception may refuse str()
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def sweep(
    n: int,
    seed: int,
    make_case: Callable[[random.Random], C],
    run_case: Callable[[C], str | None],
) -> tuple[C, str, int] | None:
    """Run ``n`` seeded cases; return ``(case, message, case_seed)`` for the first that fails.

    Case ``k`` is built by ``make_case(random.Random(seed * 1_000_003 + k))``, so any single case
    can be rebuilt from its case seed alone. ``run_case`` returns None or what went wrong.
    """
    if n < 1:
        raise ValueError(f"sweep needs n >= 1 cases, got {n}")
    for k in range(n):
        case_seed = seed * 1_000_003 + k
        # A failure inside the case reports the sweep's seed: the one the learner can pass back.
        token = _CASE_SEED.set(seed)
        try:
            case = make_case(random.Random(case_seed))
            msg = run_case(case)
        finally:
            _CASE_SEED.reset(token)
        if msg:
            return case, msg, case_seed
    return None


def shrink(
    case: C,
    run_case: Callable[[C], str | None],
    smaller: Callable[[C], Iterable[C]],
    *,
    budget: int = 2_000,
) -> tuple[C, str]:
    """Greedily replace ``case`` by the first smaller case that still fails, until none does.

    ``smaller(case)`` yields candidate cases, simplest first (drop a fault, drop a message, ...).
    Returns the smallest failing case found and its message; at most ``budget`` candidates are
    tried, so shrinking always ends.
    """
    msg = run_case(case)
    if not msg:
        raise ValueError("shrink() was given a case that does not fail")
    tried = 0
    improved = True
    while improved and tried < budget:
        improved = False
        for cand in smaller(case):
            tried += 1
            m = run_case(cand)
            if m:
                case, msg, improved = cand, m, True
                break
            if tried >= budget:
                break
    return case, msg


def passed(what: str, cases: int, started: float | None = None) -> None:
    """Print the one-line summary a learner sees when a graded check passes."""
    took = f" in {time.perf_counter() - started:.2f} s" if started is not None else ""
    print(f"✓ {what}: {cases:,} cases, no failure{took}")


def same_value(got: Any, expected: Any) -> bool:
    """Compare learner output with the truth by type and value, never via the learner's ``==``.

    ``bool`` and ``int`` are kept apart; containers are compared element by element.
    """
    if type(expected) in (list, tuple):
        return (
            type(got) is type(expected)
            and len(got) == len(expected)
            and all(same_value(g, e) for g, e in zip(got, expected, strict=True))
        )
    if type(expected) is dict:
        return (
            type(got) is dict
            and set(got) == set(expected)
            and all(same_value(got[k], expected[k]) for k in expected)
        )
    return type(got) is type(expected) and got == expected


def grader_internals_used(obj: Any) -> list[str]:
    """Private ``gotchalab`` functions and classes that learner code refers to.

    The graders' models are public code, and some of them compute what an exercise asks for
    (the chapter 06 model knows when a cache goes stale). A check calls this on the learner's
    function or class and refuses an answer that calls the grader's own private model. It reads
    the names in the code objects (globals, attributes, imports inside the function) and the
    objects those names are bound to in the function's globals, so an alias is caught too.
    """
    import inspect
    import sys
    import types

    private = {
        name
        for mod_name, mod in list(sys.modules.items())
        if mod is not None and (mod_name == "gotchalab" or mod_name.startswith("gotchalab."))
        for name in vars(mod)
        if name.startswith("_") and not name.startswith("__")
    }
    funcs = []
    if inspect.isclass(obj):
        funcs = [getattr(v, "__func__", v) for v in vars(obj).values()]
    else:
        funcs = [obj]
    found: set[str] = set()
    for fn in funcs:
        code = getattr(fn, "__code__", None)
        if not isinstance(code, types.CodeType):
            continue
        bindings = dict(getattr(fn, "__globals__", {}))
        for name, cell in zip(
            code.co_freevars, getattr(fn, "__closure__", None) or (), strict=False
        ):
            try:
                bindings[name] = cell.cell_contents
            except ValueError:  # an empty cell
                pass
        stack = [code]
        while stack:
            c = stack.pop()
            for name in (*c.co_names, *c.co_freevars):
                if name in private:
                    found.add(name)
                bound = bindings.get(name)
                mod = getattr(bound, "__module__", "") or ""
                own = getattr(bound, "__name__", "")
                if (mod == "gotchalab" or mod.startswith("gotchalab.")) and own.startswith("_"):
                    found.add(f"{name} (= {mod}.{own})")
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return sorted(found)


# -- learner objects that live in another process ------------------------------------------------
#
# In the authoritative grade (:mod:`gotchalab.grading`) the checkers run in a judge process where
# no learner code ever runs; the learner's classes and functions are proxies to a sandboxed
# process, and only plain data (None, bool, int, float, str, bytes, list, tuple, dict, set) comes
# back by value. Everything else a learner returns is a proxy too. A checker that works in both
# places follows three rules:
#
# * judge results by value and type (`same_value`, `type(x) is int`), never with isinstance() on
#   an object the learner built, and never by inspecting the learner's code objects;
# * to look inside a rich object the learner built (a matplotlib Figure), call `export(obj, kind)`
#   with an exporter registered by `@exporter(kind)`: it returns plain data describing the object;
# * where the check must run library code *next to* the learner's code (a borrower whose stack
#   frame the learner inspects, a probe that starts fresh interpreters with the learner's
#   function), call `beside(fn, *args)`: ``fn`` (a module-level gotchalab function) runs in the
#   learner's process, with the learner objects it is given, and its result comes back as plain
#   data. Its result is learner-controlled data: judge it like any other learner output.

_EXPORTERS: dict[str, Callable[[Any], Any]] = {}


def exporter(kind: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register ``fn(obj) -> plain data`` as the exporter for ``kind`` (see :func:`export`)."""

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _EXPORTERS[kind] = fn
        return fn

    return register


def is_remote(obj: Any) -> bool:
    """True for a proxy of an object that lives in the learner's process (authoritative grade)."""
    return bool(getattr(type(obj), "__gotchalab_remote__", False))


def export(obj: Any, kind: str) -> Any:
    """Plain data describing ``obj`` (a learner-built object) with the exporter named ``kind``.

    Locally the exporter runs here; for a remote object it runs in the learner's process and only
    its plain-data result comes back.
    """
    if kind not in _EXPORTERS:
        raise KeyError(f"no exporter named {kind!r}; registered: {sorted(_EXPORTERS)}")
    if is_remote(obj):
        return obj.__gotchalab_session__.export(obj, kind)
    return _EXPORTERS[kind](obj)


def map_calls(fn: Callable[..., Any], arglists: Sequence[Sequence[Any]]) -> list[Any]:
    """``[fn(*args) for args in arglists]``, in one round trip when ``fn`` is a remote learner
    function (thousands of calls of a pure function, such as a partitioner, cost one request).

    The first exception stops the loop and is raised as :func:`call` would see it.
    """
    if is_remote(fn):
        return fn.__gotchalab_session__.request("map", None, fn, [list(a) for a in arglists])
    return [fn(*a) for a in arglists]


def beside(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run the module-level gotchalab function ``fn(*args, **kw)`` where the learner's code runs.

    In the kernel that is here. In the authoritative grade, when an argument is a remote learner
    object, ``fn`` runs in the learner's process and its result comes back as plain data.
    """
    session = next((a.__gotchalab_session__ for a in (*args, *kw.values()) if is_remote(a)), None)
    if session is None:
        return fn(*args, **kw)
    return session.libcall(fn, args, kw)


# -- how a failure shows in Jupyter ---------------------------------------------------------------


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _verdict_traceback(
    shell: Any, etype: type, evalue: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """IPython shows a failing check as its report alone: no library frames, and no line of the
    test cell (which, when nbgrader grades, holds the hidden tests)."""
    text = evalue.report() if isinstance(evalue, CheckFailure) else str(evalue)
    lines = text.splitlines() or [""]
    stb = [f"\x1b[1;31m{etype.__name__}\x1b[0m: {lines[0]}", *lines[1:]]
    # IPython calls a custom handler instead of showing a traceback: show it (ipykernel then
    # sends the error output and the cell's error reply, which nbgrader scores by).
    shell._showtraceback(etype, evalue, stb)
    return stb


def _install_display() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_gotchalab_verdicts", False):
        return
    shell.set_custom_exc((CheckFailure,), _verdict_traceback)
    shell._gotchalab_verdicts = True


_install_display()
