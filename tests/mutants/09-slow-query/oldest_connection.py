"""Orders by backend_start: the oldest connection, not the longest-running query."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         ORDER BY query_start
# with:
#         ORDER BY backend_start
