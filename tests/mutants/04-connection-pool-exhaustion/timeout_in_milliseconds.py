"""acquire_timeout read as milliseconds: a waiter gives up a thousand times too early."""
# expect-fail: pool_acquire_timeout
# %% edit: connection_pool
# replace:
#         deadline = time.monotonic() + self.acquire_timeout
# with:
#         deadline = time.monotonic() + self.acquire_timeout / 1000
