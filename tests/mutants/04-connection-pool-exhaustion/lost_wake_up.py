"""A waiter whose wait() timed out raises unless a connection is idle AND a place is free: when the release's notify() landed on it just as its deadline passed, it gives up with a connection idle, and no other waiter is woken (a lost wake-up)."""
# expect-fail: pool_acquire_timeout
# %% edit: connection_pool
# replace:
#                     if self._idle or self._opened < self.size:
# with:
#                     if self._idle and self._opened < self.size:
