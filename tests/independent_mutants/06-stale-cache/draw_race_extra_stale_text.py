"""Adds a summary text on the axes ("2 stale moments") besides the marks; the contract says "no other text on the axes says stale (the title may)"."""
# expect-fail: draw_race_marks_stale_moment
# %% cell: draw_race
def draw_race(schedule: list[tuple[str, str]]):
    """The schedule as a timeline (one lane per actor, step i at y = i + 1), stale moments marked."""
    moments = stale_moments(schedule)
    trace = schedule_trace(schedule)
    notes = {i: "stale: the cache differs from the DB" for i in moments}
    fig = draw_timeline(trace, highlight=notes, title="cache race")
    ax = fig.axes[0]
    ax.text(0.02, 0.02, f"{len(moments)} stale moment(s)", transform=ax.transAxes, fontsize=8)
    return fig
