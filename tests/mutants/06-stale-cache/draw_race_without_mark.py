"""The visualizer does not mark the stale moment: a correct timeline, but nothing says where the cache went stale."""
# expect-fail: draw_race_marks_stale_moment
# %% cell: draw_race
def draw_race(schedule: list[tuple[str, str]]):
    return draw_timeline(schedule_trace(schedule), title="cache invalidation race")
