"""Takes every state but 'idle' as running: a session idle in (an aborted) transaction whose last
query is older wins."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
# with:
#         WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
