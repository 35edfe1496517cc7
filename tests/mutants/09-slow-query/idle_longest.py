"""Longest-running idle session: orders by query_start without filtering state = 'active', so an idle
session (or one idle in transaction) whose last query started earlier wins."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
# with:
#         WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
