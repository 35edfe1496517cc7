"""No backend_type filter: a WAL sender (or another background process) running a query since
before the runaway is taken for it, though only client backends count."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
# with:
#         WHERE state = 'active' AND pid <> pg_backend_pid()
