"""Without moments, draw_race marks nothing instead of stale_moments(schedule): the default is never computed."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     if moments is None:
#         moments = stale_moments(schedule)
# with:
#     if moments is None:
#         moments = []
