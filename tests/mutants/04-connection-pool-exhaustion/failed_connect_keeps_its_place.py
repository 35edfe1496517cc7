"""When connect() raises, the place reserved for it is never given back: the pool shrinks by one per failure."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#                 except BaseException:
#                     self._opened -= 1
#                     self._cond.notify()
#                     raise
# with:
#                 except BaseException:
#                     self._cond.notify()
#                     raise
