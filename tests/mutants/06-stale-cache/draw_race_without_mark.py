"""The visualizer does not mark the stale moment: a correct timeline, but nothing says where the cache went stale."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     """The schedule as a timeline (one lane per actor, step i at y = i + 1), stale moments marked."""
#     trace = schedule_trace(schedule)
#     marks = {i: "cache goes stale" for i in stale_moments(schedule)}
#     return draw_timeline(trace, highlight=marks, title="cache invalidation race")
# with:
#     return draw_timeline(schedule_trace(schedule), title="cache invalidation race")
