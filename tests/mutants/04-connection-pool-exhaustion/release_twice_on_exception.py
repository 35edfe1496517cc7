"""The with block releases in an except clause and again in finally: on an exception the second release() raises ValueError, which replaces the block's own exception."""
# expect-fail: pool_returns_on_exception
# %% edit: connection_pool
# replace:
#         try:
#             yield conn
#         finally:
#             self.release(conn)
# with:
#         try:
#             yield conn
#         except Exception:
#             self.release(conn)
#             raise
#         finally:
#             self.release(conn)
