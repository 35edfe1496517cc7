"""release() lets the OperationalError of a failed rollback (the server dropped the connection) escape instead of dropping the connection quietly."""
# expect-fail: pool_no_idle_in_transaction_leak
# %% edit: connection_pool
# replace:
#             except Exception:
#                 self._opened -= 1
#                 with contextlib.suppress(Exception):
#                     conn.close()
# with:
#             except Exception:
#                 self._opened -= 1
#                 with contextlib.suppress(Exception):
#                     conn.close()
#                 raise
