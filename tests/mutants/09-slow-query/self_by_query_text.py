"""Leaves itself out by its query text (no query that mentions pg_stat_activity) instead of by
pid: a runaway that reads pg_stat_activity (a monitoring query) is missed."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
# with:
#         WHERE state = 'active' AND query NOT ILIKE '%pg_stat_activity%'
#           AND backend_type = 'client backend'
