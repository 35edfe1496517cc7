"""Opens every connection in __init__ (a warm pool): the instructions say ConnectionPool(...) opens no connection."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#         self._idle = []        # connections opened and free
#         self._opened = 0       # connections opened and not closed
# with:
#         self._idle = [connect(dsn) for _ in range(size)]
#         self._opened = size
