"""release() never wakes a waiting acquire(): a waiter sleeps until its own timeout although a connection came back."""
# expect-fail: pool_acquire_timeout
# %% edit: connection_pool
# replace:
#                 with contextlib.suppress(Exception):
#                     conn.close()
#             self._cond.notify()
# with:
#                 with contextlib.suppress(Exception):
#                     conn.close()
