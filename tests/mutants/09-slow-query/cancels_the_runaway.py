"""Finds the runaway and cancels it too: find_runaway must only find it (stopping it is the
caller's decision)."""
# expect-fail: find_runaway_backend
# %% edit: find_runaway
# replace:
#     return int(row[0])
# with:
#     conn.execute("SELECT pg_cancel_backend(%s)", (row[0],))
#     return int(row[0])
