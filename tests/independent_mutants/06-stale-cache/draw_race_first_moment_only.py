"""Highlights only the first stale moment; the contract says "each moment the cache goes stale carries a text containing the word stale"."""
# expect-fail: draw_race_marks_stale_moment
# %% cell: draw_race
def draw_race(schedule: list[tuple[str, str]]):
    """The schedule as a timeline (one lane per actor, step i at y = i + 1), stale moments marked."""
    moments = stale_moments(schedule)
    trace = schedule_trace(schedule)
    notes = {i: "stale: the cache differs from the DB" for i in moments[:1]}  # where it went wrong
    return draw_timeline(trace, highlight=notes, title="cache race")
