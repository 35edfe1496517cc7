"""No release on exception: the with block returns its connection only when the body succeeds."""
# expect-fail: pool_returns_on_exception
# %% edit: connection_pool
# replace:
#         try:
#             yield conn
#         finally:
#             self.release(conn)
# with:
#         yield conn
#         self.release(conn)
