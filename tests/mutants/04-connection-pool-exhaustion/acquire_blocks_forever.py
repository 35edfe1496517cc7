"""Acquire blocks forever: it waits on the condition with no timeout, so an empty pool hangs its caller."""
# expect-fail: pool_acquire_timeout
# %% edit: connection_pool
# replace:
#                 left = deadline - time.monotonic()
#                 if left <= 0 or not self._cond.wait(left):
# with:
#                 self._cond.wait()
#                 if False:
