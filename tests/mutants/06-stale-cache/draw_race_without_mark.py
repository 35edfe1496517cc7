"""The visualizer does not mark the stale moments: a correct timeline, but nothing says where the cache went stale."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     marks = {i: "cache goes stale" for i in moments}
# with:
#     marks = {}
