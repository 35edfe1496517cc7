"""leaks() reports ages in milliseconds: 'age' must be seconds, and older_than is compared in the wrong unit."""
# expect-fail: pool_leak_detection_names_borrower
# %% edit: connection_pool
# replace:
#                 {"age": now - since, "where": where}
#                 for _conn, since, where in self._lent.values()
#                 if now - since >= older_than
# with:
#                 {"age": (now - since) * 1000, "where": where}
#                 for _conn, since, where in self._lent.values()
#                 if (now - since) * 1000 >= older_than
