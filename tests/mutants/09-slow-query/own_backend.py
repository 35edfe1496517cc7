"""Picks its own backend: the oldest active transaction, without leaving out pg_backend_pid(); the
learner's session has had a transaction open since before the runaway started."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#         """
#         SELECT pid FROM pg_stat_activity
#         WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
#         ORDER BY query_start
#         LIMIT 1
#         """
# with:
#         "SELECT pid FROM pg_stat_activity WHERE state = 'active' ORDER BY xact_start LIMIT 1"
