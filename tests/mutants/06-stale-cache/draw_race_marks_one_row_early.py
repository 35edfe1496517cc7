"""Marks drawn at y = i (the step's index) instead of y = i + 1."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     marks = {i: "cache goes stale" for i in moments}
# with:
#     marks = {i - 1: "cache goes stale" for i in moments if i > 0}
