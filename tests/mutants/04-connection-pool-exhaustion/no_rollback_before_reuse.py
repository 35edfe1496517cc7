"""No rollback before reuse: a returned connection keeps the borrower's open transaction (idle in transaction)."""
# expect-fail: pool_no_idle_in_transaction_leak
# %% edit: connection_pool
# replace:
#                     conn.rollback()
# with:
#                     pass
