"""A connection whose rollback raises (the server dropped it) is closed but still counted as opened: the pool loses capacity for good."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#             except Exception:
#                 self._opened -= 1
#                 with contextlib.suppress(Exception):
# with:
#             except Exception:
#                 with contextlib.suppress(Exception):
