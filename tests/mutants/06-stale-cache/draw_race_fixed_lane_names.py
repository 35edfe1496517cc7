"""Lanes labelled 'reader' and 'writer' whatever the actors are called."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     trace = schedule_trace(schedule)
# with:
#     trace = schedule_trace(
#         [("reader" if a.startswith("r") else "writer", b) for a, b in schedule]
#     )
