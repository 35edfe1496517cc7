"""The rollback happens lazily in acquire() instead of release(): a returned connection sits 'idle in transaction' in the pool, holding the borrower's locks."""
# expect-fail: pool_no_idle_in_transaction_leak
# %% edit: connection_pool
# replace:
#             if self._idle:
#                 conn = self._idle.pop()
#             else:
# with:
#             if self._idle:
#                 conn = self._idle.pop()
#                 if conn.info.transaction_status != TransactionStatus.IDLE:
#                     conn.rollback()
#             else:
# replace:
#                     if conn.info.transaction_status != TransactionStatus.IDLE:
#                         conn.rollback()
#                     self._idle.append(conn)
# with:
#                     self._idle.append(conn)
