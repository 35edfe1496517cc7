"""Commits the caller's transaction after reading pg_stat_activity ("to leave it clean"): the
caller's uncommitted work is committed behind its back."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#     return int(row[0])
# with:
#     conn.commit()
#     return int(row[0])
