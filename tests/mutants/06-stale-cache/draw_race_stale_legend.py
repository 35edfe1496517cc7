"""Adds a 'stale' key in axes coordinates: a text saying stale that marks no step."""
# expect-fail: draw_race_marks_stale_moment
# %% edit: draw_race
# replace:
#     return draw_timeline(trace, highlight=marks, title="cache invalidation race")
# with:
#     fig = draw_timeline(trace, highlight=marks, title="cache invalidation race")
#     fig.axes[0].text(0.98, 0.02, "red = stale", transform=fig.axes[0].transAxes, ha="right")
#     return fig
