"""Only queries that are not waiting for a lock: a runaway stuck behind a row lock is missed."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         ORDER BY query_start
# with:
#           AND wait_event_type IS DISTINCT FROM 'Lock'
#         ORDER BY query_start
