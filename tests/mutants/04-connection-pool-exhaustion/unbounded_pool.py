"""Unbounded pool: when no idle connection is left, acquire() opens a new one instead of waiting."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#             while not self._idle and self._opened >= self.size:
# with:
#             while False:
