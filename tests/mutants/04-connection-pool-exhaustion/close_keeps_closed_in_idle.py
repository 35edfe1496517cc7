"""close() closes the idle connections but keeps them in the idle list: a later acquire() lends a closed connection."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#             self._idle.clear()
# with:
#             pass
