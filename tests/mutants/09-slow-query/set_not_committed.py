"""SET without commit: with autocommit off the SET joins an open transaction; the first runaway's
cancel rolls that transaction back and the timeout with it."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     # Between the slowest normal request (100 ms) and the bound (400 ms), with room for jitter.
# with:
#
# replace:
#     # Autocommit is off: the SET is part of an open transaction until committed; a rollback
#     # (after the first runaway is cancelled, say) would undo it.
#     conn.commit()
# with:
#
