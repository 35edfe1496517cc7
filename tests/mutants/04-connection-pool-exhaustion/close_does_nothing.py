"""close() forgets the idle connections without closing them: they stay open on the server."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#             for conn in self._idle:
#                 conn.close()
#             self._opened -= len(self._idle)
# with:
#             self._opened -= len(self._idle)
