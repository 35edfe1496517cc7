"""A connect() error is turned into PoolTimeout: the caller never sees why the database refused, against 'acquire() lets that same exception reach its caller'."""
# expect-fail: pool_bounded_size
# %% edit: connection_pool
# replace:
#                 except BaseException:
#                     self._opened -= 1
#                     self._cond.notify()
#                     raise
# with:
#                 except BaseException as exc:
#                     self._opened -= 1
#                     self._cond.notify()
#                     raise PoolTimeout(f"pool of {self.size}: could not connect ({exc})") from exc
