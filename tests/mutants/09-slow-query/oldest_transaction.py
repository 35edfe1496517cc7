"""Orders by xact_start: a later query inside a transaction begun before the runaway's query
looks older than the runaway."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         ORDER BY query_start
# with:
#         ORDER BY xact_start
