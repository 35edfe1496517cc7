"""Vague timeout: PoolTimeout says only 'timed out', not the pool size or how long it waited."""
# expect-fail: pool_acquire_timeout
# %% edit: connection_pool
# replace:
#                     raise PoolTimeout(
#                         f"no connection free: all {self.size} connections of the pool are lent "
#                         f"and none came back within {self.acquire_timeout} s"
#                     )
# with:
#                     raise PoolTimeout("timed out")
