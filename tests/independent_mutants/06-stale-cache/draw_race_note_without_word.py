"""Marks each stale moment with a note that never says "stale" ("old value cached") and puts the word only in the title; the contract requires "a text containing the word stale at that step"."""
# expect-fail: draw_race_marks_stale_moment
# %% cell: draw_race
def draw_race(schedule: list[tuple[str, str]]):
    """The schedule as a timeline (one lane per actor, step i at y = i + 1), stale moments marked."""
    moments = stale_moments(schedule)
    trace = schedule_trace(schedule)
    notes = {i: "old value cached: cache != DB" for i in moments}
    return draw_timeline(trace, highlight=notes, title="cache race: stale moments in red")
