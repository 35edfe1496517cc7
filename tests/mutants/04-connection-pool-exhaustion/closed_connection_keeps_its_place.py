"""A connection that comes back closed is dropped but still counted as opened: after a few, the pool has no place left."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#                 if conn.closed:
#                     self._opened -= 1
#                 else:
# with:
#                 if conn.closed:
#                     pass
#                 else:
