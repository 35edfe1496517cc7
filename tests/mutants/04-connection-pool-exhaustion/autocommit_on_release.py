"""release() switches autocommit on after the rollback ('so nothing is left open'): the next borrower's statements commit one by one and its rollback undoes nothing."""
# expect-fail: pool_no_idle_in_transaction_leak
# %% edit: connection_pool
# replace:
#                     if conn.info.transaction_status != TransactionStatus.IDLE:
#                         conn.rollback()
#                     self._idle.append(conn)
# with:
#                     if conn.info.transaction_status != TransactionStatus.IDLE:
#                         conn.rollback()
#                     conn.autocommit = True
#                     self._idle.append(conn)
