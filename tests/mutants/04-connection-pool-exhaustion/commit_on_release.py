"""Commit on release: the pool commits whatever the borrower left open, making half-done work permanent."""
# expect-fail: pool_no_idle_in_transaction_leak
# %% edit: connection_pool
# replace:
#                     conn.rollback()
# with:
#                     conn.commit()
