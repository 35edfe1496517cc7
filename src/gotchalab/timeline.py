"""Draw a trace as a sequence diagram: one lane per node, time flowing down, an arrow per message.

The same function draws a network run (:mod:`gotchalab.sim`) and a schedule found by the explorer
(:mod:`gotchalab.explore`), in the HTML book and in JupyterLab. Violations are drawn in red with a
note beside them, crashes as a red cross with a dashed lane until the restart, partitions as a
shaded band, dropped messages as arrows that stop halfway at a cross.

Rows
----
With ``rows="event"`` (the default) every drawn event gets its own row, in trace order, so a burst
of sends at one instant fans out instead of piling up; with ``rows="order"`` every distinct time
gets a row, so a run whose delays span 0.1 to 50 stays readable. Either way the y ticks show the
real times. ``rows="time"`` uses the times themselves.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from .trace import CRASH, DROP, DUP, HEAL, PARTITION, RECOVER, RECV, SEND, Event, Trace

__all__ = ["draw_timeline", "label_for"]

NETWORK = "network"
_INK = "#1f2933"
_LANE = "#9aa5b1"
_MSG = "#2b6cb0"
_BAD = "#c53030"
_OK = "#2f855a"


def _short(value: Any, width: int = 28) -> str:
    text = value if isinstance(value, str) else repr(value)
    return textwrap.shorten(text, width=width, placeholder="…")


def label_for(e: Event) -> str:
    """The text drawn beside a local event: ``detail['text']`` if given, else name and details."""
    text = e.detail.get("text")
    if text:
        return _short(text, 40)
    extras = ", ".join(f"{k}={_short(v, 16)}" for k, v in e.detail.items() if k != "state")
    return _short(f"{e.event} {extras}".strip(), 40)


def draw_timeline(
    trace: Trace,
    *,
    highlight: Mapping[int, str] | None = None,
    title: str | None = None,
    rows: str = "event",
    label: Callable[[Event], str | None] | None = None,
    ax=None,
    max_events: int = 200,
):
    """Draw ``trace`` and return the matplotlib Figure.

    ``highlight`` maps event indexes to a short note ("stale value cached here"); those events are
    drawn in red. ``label(event)`` may override the text of local events (return None for default).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if rows not in ("event", "order", "time"):
        raise ValueError(f"rows must be 'event', 'order' or 'time', got {rows!r}")
    events = trace.events
    if len(events) > max_events:
        raise ValueError(
            f"trace has {len(events)} events; a readable timeline shows at most {max_events}. "
            "Draw a smaller run or trace.filter(...) first."
        )
    highlight = dict(highlight or {})
    lanes = [n for n in trace.nodes if n != NETWORK] or ["(empty)"]
    x_of = {n: i for i, n in enumerate(lanes)}
    times = sorted({e.time for e in events})
    # Row of each event index; DUP rows are folded into their send.
    row: dict[int, float] = {}
    if rows == "event":
        r = 0
        for i, e in enumerate(events):
            if e.event not in (DUP,):
                r += 1
            row[i] = float(max(r, 1))
    else:
        y_of_time = {
            t: (float(k + 1) if rows == "order" else float(t)) for k, t in enumerate(times)
        }
        row = {i: y_of_time[e.time] for i, e in enumerate(events)}
    index_of = {id(e): i for i, e in enumerate(events)}

    def y(t_or_event) -> float:
        return row[index_of[id(t_or_event)]]

    y_max = max(row.values(), default=1.0) + 0.8
    width = max(5.0, 2.4 * len(lanes) + 1.5)
    n_rows = len(set(row.values()))
    height = max(2.5, min(0.36 * n_rows + 1.6, 24.0)) if rows != "time" else 6.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    else:
        fig = ax.figure

    # Crashes make a lane dashed until the node restarts.
    down: dict[str, list[tuple[float, float]]] = {n: [] for n in lanes}
    crashed_at: dict[str, float] = {}
    for e in events:
        if e.event == CRASH and e.node in down:
            crashed_at[e.node] = y(e)
        elif e.event == RECOVER and e.node in crashed_at:
            down[e.node].append((crashed_at.pop(e.node), y(e)))
    for n, y0 in crashed_at.items():
        down[n].append((y0, y_max))

    for n, xi in x_of.items():
        ax.plot([xi, xi], [0.3, y_max], color=_LANE, lw=1.4, zorder=1)
        for a, b in down[n]:
            ax.plot([xi, xi], [a, b], color="white", lw=2.2, zorder=2)
            ax.plot([xi, xi], [a, b], color=_BAD, lw=1.2, ls=(0, (3, 3)), zorder=3)
        ax.text(
            xi,
            0.0,
            n,
            ha="center",
            va="bottom",
            fontsize=10,
            fontweight="bold",
            color=_INK,
            bbox=dict(boxstyle="round,pad=0.3", fc="#edf2f7", ec=_LANE),
        )

    # Partitions as shaded bands.
    open_part: float | None = None
    part_label = ""
    for e in events:
        if e.event == PARTITION:
            open_part = y(e)
            part_label = " | ".join("{" + ",".join(g) + "}" for g in e.detail.get("groups", []))
        elif e.event == HEAL and open_part is not None:
            ax.add_patch(
                Rectangle(
                    (-0.6, open_part), len(lanes) + 0.2, y(e) - open_part, color="#fefcbf", zorder=0
                )
            )
            ax.text(
                len(lanes) - 0.45,
                open_part + 0.1,
                f"partition {part_label}",
                fontsize=7,
                color="#975a16",
                va="top",
                ha="right",
            )
            open_part = None
    if open_part is not None:
        ax.add_patch(
            Rectangle(
                (-0.6, open_part), len(lanes) + 0.2, y_max - open_part, color="#fefcbf", zorder=0
            )
        )

    sends: dict[str, Event] = {}
    for idx, e in enumerate(events):
        bad = idx in highlight
        color = _BAD if bad else _INK
        if e.event == SEND:
            sends[e.detail["msg"]] = e
        elif e.event == RECV and e.node in x_of:
            s = sends.get(e.detail["msg"])
            if s is not None and s.node in x_of:
                _arrow(
                    ax, x_of[s.node], y(s), x_of[e.node], y(e), _BAD if bad else _MSG, _msg_label(s)
                )
            ax.plot(x_of[e.node], y(e), "o", ms=4, color=_BAD if bad else _MSG, zorder=5)
        elif e.event == DROP:
            s = sends.get(e.detail["msg"])
            if s is not None and s.node in x_of and e.detail.get("dst") in x_of:
                x0, y0 = x_of[s.node], y(s)
                x1 = x_of[e.detail["dst"]]
                y1 = y(e) if y(e) > y0 else y0 + 0.6
                xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
                if e.detail.get("reason") == "node down":
                    xm, ym = x1 - 0.12 * (1 if x1 > x0 else -1), y1
                ax.annotate(
                    "",
                    xy=(xm, ym),
                    xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-", color=_LANE, lw=1.1, ls="--"),
                )
                ax.plot(xm, ym, "x", color=_BAD, ms=8, mew=2, zorder=6)
                ax.text(
                    xm,
                    ym + 0.05,
                    f"{e.detail['msg']} {e.detail.get('reason', 'lost')}",
                    fontsize=7,
                    color=_BAD,
                    ha="center",
                    va="top",
                )
        elif e.event == CRASH and e.node in x_of:
            ax.plot(x_of[e.node], y(e), "X", color=_BAD, ms=11, zorder=6)
            ax.text(x_of[e.node] + 0.1, y(e), "crash", fontsize=8, color=_BAD, va="center")
        elif e.event == RECOVER and e.node in x_of:
            ax.plot(x_of[e.node], y(e), "s", color=_OK, ms=7, zorder=6)
            ax.text(x_of[e.node] + 0.1, y(e), "restart (empty)", fontsize=8, color=_OK, va="center")
        elif e.event in (DUP, PARTITION, HEAL):
            continue
        elif e.node in x_of:
            text = (label(e) if label else None) or label_for(e)
            ax.plot(x_of[e.node], y(e), "o", ms=6 if bad else 5, color=color, zorder=5)
            ax.text(
                x_of[e.node] + 0.08,
                y(e),
                text,
                fontsize=8,
                color=color,
                va="center",
                ha="left",
                zorder=7,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
            )
        if bad and highlight[idx]:
            xi = x_of.get(e.node, 0)
            ax.annotate(
                highlight[idx],
                xy=(xi, y(e)),
                xytext=(xi - 0.15, y(e) + 0.45),
                fontsize=8.5,
                color=_BAD,
                fontweight="bold",
                ha="right",
                zorder=8,
                arrowprops=dict(arrowstyle="->", color=_BAD, lw=1.2),
                bbox=dict(boxstyle="round,pad=0.25", fc="#fff5f5", ec=_BAD),
            )

    ax.set_xlim(-0.7, len(lanes) - 0.3)
    ax.set_ylim(y_max, -0.4)
    ticks: dict[float, float] = {}
    for i, e in enumerate(events):
        ticks.setdefault(row[i], e.time)
    ax.set_yticks(list(ticks))
    ax.set_yticklabels([f"{t:g}" for t in ticks.values()], fontsize=7, color=_LANE)
    ax.set_ylabel("time", color=_LANE, fontsize=8)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if title is None:
        bits = []
        if trace.seed is not None:
            bits.append(f"seed {trace.seed}")
        if trace.meta.get("faults"):
            bits.append(str(trace.meta["faults"]))
        title = " · ".join(bits) or None
    if title:
        ax.set_title(textwrap.fill(title, 90), fontsize=9.5, color=_INK, loc="left")
    fig.tight_layout()
    return fig


def _msg_label(send: Event) -> str:
    p = send.detail.get("payload")
    return send.detail["msg"] + ("" if p is None else f" {_short(p, 22)}")


def _arrow(ax, x0: float, y0: float, x1: float, y1: float, color: str, text: str) -> None:
    ax.annotate(
        "",
        xy=(x1, y1),
        xytext=(x0, y0),
        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2, shrinkA=2, shrinkB=3),
        zorder=4,
    )
    xm, ym = x0 + (x1 - x0) * 0.35, y0 + (y1 - y0) * 0.35
    ax.text(
        xm,
        ym,
        text,
        fontsize=7,
        color=color,
        ha="center",
        va="bottom",
        rotation=0,
        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8),
        zorder=7,
    )
