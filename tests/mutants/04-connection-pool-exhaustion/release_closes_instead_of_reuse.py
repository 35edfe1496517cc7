"""No reuse: release() closes every returned connection, so each acquire() opens a new one although a returned connection could have been lent again."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#                     if conn.info.transaction_status != TransactionStatus.IDLE:
#                         conn.rollback()
#                     self._idle.append(conn)
# with:
#                     conn.close()
#                     self._opened -= 1
